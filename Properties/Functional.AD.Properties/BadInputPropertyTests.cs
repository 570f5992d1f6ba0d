using System.Linq.Expressions;
using System.Reflection;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Functional.AD.Testing.Programs;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// Random malformed programs and arguments (wrong shapes and dtypes, nulls, wrong arities, bad axes) fed to every
/// entry point: whatever happens, nothing may escape but the library's own exceptions (<see cref="AdException"/>) or
/// the <see cref="ArgumentException"/> family (<see cref="ShapeException"/> included), and no internal
/// NullReference, IndexOutOfRange or InvalidOperation exception may hide inside one.
/// </summary>
[Collection(nameof(DebugNansCollection))]   // Ad.Checked and DebugNans share the checker; keep the switch stable
public sealed class BadInputPropertyTests
{
    static readonly string[] entries = ["Grad", "Jvp", "Vjp", "Hvp", "Jit", "Vmap", "Show", "Checked", "TreeMap", "GradCheck"];

    /// <summary>One trial: the program, the entry point, how arguments and axes are broken.</summary>
    public sealed record Trial(int Seed, string Entry, int Mutation, int ShapeSeed, int[] Axes, int ArityDelta)
    {
        public override string ToString() =>
            $"seed {Seed}, entry {Entry}, mutation {Mutation}, shapes {ShapeSeed}, axes [{string.Join(",", Axes)}], arity {ArityDelta:+0;-0;0}";
    }

    static Gen<Trial> Trials =>
        from seed in Gen.Choose(0, 100_000)
        from entry in Gen.Elements(entries)
        from mutation in Gen.Choose(0, 6)
        from shapeSeed in Gen.Choose(0, 100_000)
        from axes in Gen.Choose(-4, 4).ArrayOf(3)
        from arity in Gen.Elements(0, 0, 0, -1, 1)
        select new Trial(seed, entry, mutation, shapeSeed, axes, arity);

    static Tensor RandomTensor(Random r)
    {
        var dims = Enumerable.Range(0, r.Next(0, 4)).Select(_ => r.Next(0, 4)).ToArray();
        var t = Rng.Normal(PrngKey.Create(r.Next()), dims, r.Next(2) == 0 ? DType.Float32 : DType.Float64);
        return r.Next(6) == 0 ? t * double.NaN : t;
    }

    /// <summary>Breaks one argument: null it, give a tensor of a random shape or dtype, or break a leaf of a pytree.</summary>
    static object?[] Mutate(object?[] args, int mutation, Random r)
    {
        var a = (object?[])args.Clone();
        if (a.Length == 0) return a;
        int i = r.Next(a.Length);
        a[i] = (mutation, a[i]) switch
        {
            (0, _) => null,
            (_, Tensor) => RandomTensor(r),
            (_, FuzzParams p) => mutation % 2 == 0 ? p with { A = RandomTensor(r) } : p with { B = mutation == 3 ? null! : RandomTensor(r) },
            (_, ValueTuple<Tensor, Tensor> p) => mutation % 2 == 0 ? (RandomTensor(r), p.Item2) : (p.Item1, mutation == 3 ? null! : RandomTensor(r)),
            (_, ValueTuple<Tensor, Tensor, double> p) => (mutation == 5 ? null! : RandomTensor(r), p.Item2, double.NaN),
            (_, double) => double.PositiveInfinity,
            (_, var v) => v,
        };
        return a;
    }

    static object? Invoke(MethodInfo m, params object?[] args)
    {
        try { return m.Invoke(null, args); }
        catch (TargetInvocationException e) when (e.InnerException is not null) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw(); throw; }
    }

    static object? Call(Delegate d, object?[] args)
    {
        try { return d.DynamicInvoke(args); }
        catch (TargetInvocationException e) when (e.InnerException is not null) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw(); throw; }
    }

    /// <summary>The generic <c>Ad</c> method <paramref name="name"/> whose expression parameter has <paramref name="arity"/> arguments.</summary>
    static MethodInfo AdMethod(string name, LambdaExpression f, int extraParams = 0, Type? on = null)
    {
        var ps = f.Parameters.Select(p => p.Type).ToArray();
        var candidates = (on ?? typeof(Ad)).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Where(m => m.Name == name && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == ps.Length + 1 && m.GetParameters().Length == 1 + extraParams).ToArray();
        return candidates[0].MakeGenericMethod([.. ps, f.ReturnType]);
    }

    static void Run(Trial t)
    {
        var program = ProgramGen.FromSeed(t.Seed);
        var f = program.Function;
        var r = new Random(t.ShapeSeed);
        var good = program.InputsFrom(t.Seed).Cast<object?>().ToArray();
        var bad = Mutate(good, t.Mutation, r);
        switch (t.Entry)
        {
            case "Grad":
                Call(Ad.Grad(f, 0).Compile(), bad);
                break;
            case "Jvp":
            {
                var jvp = (LambdaExpression)Invoke(AdMethod(nameof(Ad.Jvp), f), f)!;
                Call(jvp.Compile(), [.. good, .. bad]);
                break;
            }
            case "Vjp" when f.Parameters.Count <= 2:
            {
                var vjp = (LambdaExpression)Invoke(AdMethod(nameof(Ad.Vjp), f), f)!;
                Call(vjp.Compile(), [.. good, RandomTensor(r)]);
                break;
            }
            case "Hvp" when f.Parameters.Count == 1:
            {
                var hvp = (LambdaExpression)Invoke(AdMethod(nameof(Ad.Hvp), f), f)!;
                Call(hvp.Compile(), [good[0], bad[0]]);
                break;
            }
            case "Jit":
                Call((Delegate)Invoke(AdMethod(nameof(Ad.Jit), f), f)!, bad);
                break;
            case "Vmap":
            {
                int n = Math.Max(0, f.Parameters.Count + t.ArityDelta);
                var inAxes = Enumerable.Range(0, n).Select(i => t.Axes[i % t.Axes.Length] is var a && a == 4 ? (int?)null : a).ToArray();
                var vm = (LambdaExpression)Invoke(AdMethod(nameof(Ad.Vmap), f, 4), f, inAxes, t.Axes[0] == 0 ? null : new int?[] { t.Axes[1] }, t.Axes[2] > 2 ? t.Axes[2] : null, null)!;
                var stacked = bad.Select(x => x is Tensor tt ? Np.Stack([tt, tt], Math.Clamp(t.Axes[0], -tt.Rank - 1, tt.Rank)) : x).ToArray();
                Call(vm.Compile(), stacked);
                break;
            }
            case "Show":
            {
                int n = Math.Max(0, bad.Length + t.ArityDelta);
                var args = Enumerable.Range(0, n).Select(i => i < bad.Length ? bad[i] : RandomTensor(r)).ToArray();
                Ad.Show(f, args);
                break;
            }
            case "Checked":
                Call((Delegate)Invoke(AdMethod(nameof(Ad.Checked), f), f)!, bad);
                break;
            case "TreeMap":
            {
                var map = typeof(Tree).GetMethods().Single(m => m.Name == nameof(Tree.Map) && m.GetParameters().Length == 3).MakeGenericMethod(f.Parameters[0].Type);
                Invoke(map, (Func<Tensor, Tensor, Tensor>)((x, y) => x + y), good[0], bad[0]);
                break;
            }
            case "GradCheck" when f.Parameters.Count == 1 && f.ReturnType == typeof(Tensor):
            {
                var check = typeof(GradCheck).GetMethod(nameof(GradCheck.Check))!.MakeGenericMethod(f.Parameters[0].Type, f.ReturnType);
                Invoke(check, f, bad[0], t.Axes[0] <= 0 ? 0.0 : 1e-5, 1e-6);
                break;
            }
        }
    }

    /// <summary>Whether <paramref name="e"/> is an acceptable way to refuse a bad input (null: it was accepted).</summary>
    internal static string? Escaped(Exception? e)
    {
        if (e is null) return null;
        if (e is not (AdException or ArgumentException)) return $"{e.GetType().Name} escaped: {e.Message}\n{e.StackTrace}";
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            if (inner is NullReferenceException or IndexOutOfRangeException or InvalidOperationException)
                return $"{e.GetType().Name} wraps an internal {inner.GetType().Name}: {inner.Message}\n{inner.StackTrace}";
        return null;
    }

    [Property(MaxTest = 300)]
    public Property Malformed_programs_and_arguments_raise_only_the_library_or_Argument_exceptions() =>
        Prop.ForAll(Trials.ToArbitrary(), t =>
        {
            var why = Escaped(Record.Exception(() => Run(t)));
            return (why is null).Label($"{t}: {why}");
        });
}
