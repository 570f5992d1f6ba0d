using System.Linq.Expressions;

namespace Functional.AD;

public static partial class Ad
{
    /// <summary>
    /// Compiles <paramref name="f"/> for the CPU, specialised to the shapes of each call: a delegate of the same signature
    /// that, per shape signature (shapes and dtypes of the tensor leaves, values of static leaves), folds every shape
    /// computation, unrolls tiny tensors into scalar code, fuses elementwise chains into SIMD loops, runs products on a
    /// blocked GEMM and calls eager kernels for the rest. Compiled once per signature and cached in the delegate.
    /// Example: <c>var step = Ad.Jit(Ad.Grad(loss)); var g = step(p, x, y);</c>
    /// </summary>
    /// <exception cref="ShapeException">At the first call with a signature whose shapes do not fit; the message names the subexpression.</exception>
    public static Func<T1, TResult> Jit<T1, TResult>(this Expression<Func<T1, TResult>> f) => new Jit1<T1, TResult>(f).Entry();

    /// <summary>Compiles <paramref name="f"/> for the CPU, specialised per shape signature (see <see cref="Jit{T1, TResult}"/>).</summary>
    public static Func<T1, T2, TResult> Jit<T1, T2, TResult>(this Expression<Func<T1, T2, TResult>> f) => new Jit2<T1, T2, TResult>(f).Entry();

    /// <summary>Compiles <paramref name="f"/> for the CPU, specialised per shape signature (see <see cref="Jit{T1, TResult}"/>).</summary>
    public static Func<T1, T2, T3, TResult> Jit<T1, T2, T3, TResult>(this Expression<Func<T1, T2, T3, TResult>> f) => new Jit3<T1, T2, T3, TResult>(f).Entry();

    /// <summary>Compiles <paramref name="f"/> for the CPU, specialised per shape signature (see <see cref="Jit{T1, TResult}"/>).</summary>
    public static Func<T1, T2, T3, T4, TResult> Jit<T1, T2, T3, T4, TResult>(this Expression<Func<T1, T2, T3, T4, TResult>> f) => new Jit4<T1, T2, T3, T4, TResult>(f).Entry();

    /// <summary>
    /// The program <see cref="Jit{T1, TResult}"/> makes of <paramref name="f"/> for the shapes of <paramref name="args"/>,
    /// like a jaxpr: one line per primitive with its aval and how it is lowered, e.g.
    /// <c>var t3 = Np.Tanh(t2);   // float32[3]  unrolled</c>.
    /// </summary>
    /// <param name="f">The function.</param>
    /// <param name="args">Example arguments, one per parameter of <paramref name="f"/>.</param>
    /// <returns>The specialised program as text.</returns>
    public static string Show(LambdaExpression f, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (args.Length != f.Parameters.Count)
            throw new ArgumentException($"Ad.Show: `{Printer.Expr(f)}` takes {f.Parameters.Count} arguments, got {args.Length}.", nameof(args));
        var jt = typeof(JitFunction<>).MakeGenericType(f.Type);
        try
        {
            // reading the function (the constructor) reports unsupported C# as Ad.Jit does, not wrapped by reflection
            var j = Activator.CreateInstance(jt, f)!;
            var spec = jt.GetMethod(nameof(JitFunction<Action>.Get))!.Invoke(j, [args])!;
            return (string)spec.GetType().GetProperty("Listing")?.GetValue(spec)! ?? (string)spec.GetType().GetField("Listing")!.GetValue(spec)!;
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    /// <summary>How many specialisations a delegate returned by <c>Ad.Jit</c> has compiled (for tests); -1 for another delegate.</summary>
    internal static int JitCompilations(Delegate jitted) => JitFunction<Action>.Of(jitted)?.Compilations ?? -1;

    /// <summary>The cache of a delegate returned by <c>Ad.Jit</c> (for tests); null for another delegate.</summary>
    internal static IJitFunction? JitCache(Delegate jitted) => JitFunction<Action>.Of(jitted);
}
