using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using Xunit.Abstractions;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The CPU jit against its oracle, plain <c>Expression.Compile()</c> of the same expression (eager code): every spec and
/// every spec's gradient, float32 and float64, random shapes from the spec generators; compositions; threads; the cache;
/// shape errors at specialisation.
/// </summary>
public class JitTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> AllSpecs => Specs.All.Select(s => new object[] { s.Name });

    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    /// <summary>Ad.Jit for a lambda of any arity (1 to 4), through reflection.</summary>
    internal static Delegate JitAny(LambdaExpression f)
    {
        var types = f.Type.GetGenericArguments();
        var m = typeof(Ad).GetMethods().Single(m => m.Name == nameof(Ad.Jit) && m.GetGenericArguments().Length == types.Length);
        return (Delegate)m.MakeGenericMethod(types).Invoke(null, [f])!;
    }

    static IEnumerable<Tensor> Leaves(object? o) => o switch
    {
        Tensor t => [t],
        ITuple tuple => Enumerable.Range(0, tuple.Length).SelectMany(i => Leaves(tuple[i])),
        _ => throw new InvalidOperationException($"unexpected output {o}"),
    };

    /// <summary>Within a few ulps relative to the output's magnitude (sums may be taken in another order, scalar and SIMD tanh differ in the last bits).</summary>
    internal static string? Differ(object? expected, object? actual)
    {
        var e = Leaves(expected).ToArray();
        var a = Leaves(actual).ToArray();
        if (e.Length != a.Length) return $"{e.Length} outputs expected, got {a.Length}";
        for (int i = 0; i < e.Length; i++)
        {
            if (!e[i].Shape.SequenceEqual(a[i].Shape) || e[i].DType != a[i].DType || e[i].IsWeak != a[i].IsWeak)
                return $"output {i}: expected {e[i].Aval}, got {a[i].Aval}";
            double eps = e[i].DType == DType.Float32 ? 1e-6 : 1e-14;
            var ev = e[i].ToDoubleArray();
            double scale = ev.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
            if (!a[i].AllClose(e[i], 16 * eps, 16 * eps * (1 + scale)))
                return $"output {i}: expected {e[i]}, got {a[i]}";
        }
        return null;
    }

    static object? Call(Delegate d, object?[] args)
    {
        try { return d.DynamicInvoke(args); }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Jit_equals_compile_for_every_spec_and_its_gradient(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        var f = spec.Function.Compile();
        var jf = JitAny(spec.Function);
        var grad = check.Gradient.Compile();
        var jgrad = JitAny(check.Gradient);
        var tuple = check.Gradient.Parameters[0].Type;
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var property = Prop.ForAll(Arb.From(spec.Inputs(dtype).SelectMany(x => Gen.Choose(0, 1000).Select(seed => (x, seed)))), c =>
            {
                var args = c.x.Cast<object?>().ToArray();
                var diff = Differ(Call(f, args), Call(jf, args));
                if (diff is not null) return false.Label($"{name} ({dtype}) at {string.Join(", ", c.x.Select(t => t.Aval))}: {diff}");
                var w = Gens.Weights(((Tensor)Call(f, args)!).Shape, dtype, c.seed);
                var packed = Activator.CreateInstance(tuple, c.x.Cast<object>().ToArray());
                diff = Differ(Call(grad, [packed, w]), Call(jgrad, [packed, w]));
                return diff is null ? true.ToProperty() : false.Label($"gradient of {name} ({dtype}) at {string.Join(", ", c.x.Select(t => t.Aval))}: {diff}");
            });
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(25).WithQuietOnSuccess(true), property);
        }
    }

    record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

    static readonly Expression<Func<Tensor, Tensor>> sigmoid = x => 1.0 / (1 + Exp(-x));
    static readonly Expression<Func<Params, Tensor, Tensor>> net = (p, x) => sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2);
    static readonly Expression<Func<Params, Tensor, Tensor, Tensor>> loss = (p, x, y) => Let(net.Invoke(p, x), o => -y * Log(o) - (1 - y) * Log(1 - o));

    static Params RandomParams(int seed, DType t, int hidden = 3, int inputs = 2) =>
        Tree.Normal(PrngKey.Create(seed), new Params(Lax.Zeros(new Aval([hidden, inputs], t)), Lax.Zeros(new Aval([hidden], t)), Lax.Zeros(new Aval([hidden], t)), Lax.Zeros(new Aval([], t))));

    [Fact]
    public void Jit_of_the_xor_loss_gradient_equals_compile()
    {
        var g = loss.Grad();
        var plain = g.Compile();
        var jitted = g.Jit();
        foreach (var t in new[] { DType.Float32, DType.Float64 })
            for (int seed = 0; seed < 10; seed++)
            {
                var p = RandomParams(seed, t);
                var x = new Tensor(new float[] { seed % 2, seed / 2 % 2 }).AsType(t);
                var y = new Tensor(seed % 3 == 0 ? 1.0 : 0.0);   // a weak scalar, as the example passes it
                var e = plain(p, x, y);
                var a = jitted(p, x, y);
                Assert.Null(Differ((e.W1, e.B1, e.W2, e.B2), (a.W1, a.B1, a.W2, a.B2)));
            }
        var listing = Ad.Show(g, RandomParams(0, DType.Float32), new Tensor(new float[] { 0, 1 }), Tensor.Scalar(1, DType.Float32));
        output.WriteLine(listing);
        // every line of the specialised program says how it is lowered, including those a rewrite made while the
        // listing was folded (the cotangent of the cross-entropy: (1 - y) / (1 - o) printed from (1 - y) * -1 / (1 - o))
        var lines = listing.Split('\n').Where(l => l.TrimStart().StartsWith("var t")).ToArray();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(@"//\s*float32\[[0-9,]*\]\s+\S", l));
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Large_products_on_the_blocked_gemm_equal_compile(DType t)
    {
        Expression<Func<Tensor, Tensor, Tensor>> dot = (a, b) => Dot(a, b);
        Expression<Func<Tensor, Tensor, Tensor>> dotTA = (g, b) => Lax.DotTA(g, b);
        Expression<Func<Tensor, Tensor, Tensor>> dotTB = (a, g) => Lax.DotTB(a, g);
        Expression<Func<Tensor, Tensor, Tensor>> matmul = (a, b) => Tanh(MatMul(a, b));
        // sizes off the register tile and the blocks (edges), and one large enough for two threads
        foreach (var (m, k, n) in new[] { (37, 70, 45), (130, 300, 61), (8, 256, 32), (140, 200, 300) })
        {
            var a = Rng.Normal(PrngKey.Create(m), [m, k], t);
            var b = Rng.Normal(PrngKey.Create(n), [k, n], t);
            var g = Rng.Normal(PrngKey.Create(k), [m, n], t);
            Assert.Null(Differ(dot.Compile()(a, b), dot.Jit()(a, b)));
            Assert.Null(Differ(matmul.Compile()(a, b), matmul.Jit()(a, b)));
            Assert.Null(Differ(dotTA.Compile()(g, b), dotTA.Jit()(g, b)));
            Assert.Null(Differ(dotTB.Compile()(a, g), dotTB.Jit()(a, g)));
        }
        Assert.Contains("gemm", Ad.Show(dot, Np.Zeros([64, 64], t), Np.Zeros([64, 64], t)));
    }

    internal record Mlp(Tensor W1, Tensor B1, Tensor W2, Tensor B2, Tensor W3, Tensor B3);

    internal static readonly Expression<Func<Mlp, Tensor, Tensor, Tensor>> MlpLoss = (p, x, y) =>
        -Mean(Sum(y * LogSoftmax(MatMul(Tanh(MatMul(Tanh(MatMul(x, p.W1) + p.B1), p.W2) + p.B2), p.W3) + p.B3, -1), -1, false), null, false);

    [Fact]
    public void Jit_of_an_mlp_gradient_equals_compile()
    {
        var g = MlpLoss.Grad();
        var (i, h, o, b) = (64, 48, 10, 32);
        var p = Tree.Normal(PrngKey.Create(1), new Mlp(Np.Zeros([i, h]), Np.Zeros([h]), Np.Zeros([h, h]), Np.Zeros([h]), Np.Zeros([h, o]), Np.Zeros([o])));
        p = Tree.Map(w => w * 0.2, p);
        var x = Rng.Normal(PrngKey.Create(2), [b, i]);
        var y = OneHot(new Tensor(Enumerable.Range(0, b).Select(k => (float)(k % o)).ToArray()), o, DType.Float32);
        var e = g.Compile()(p, x, y);
        var a = g.Jit()(p, x, y);
        Assert.Null(Differ((e.W1, e.B1, e.W2, e.B2, e.W3, e.B3), (a.W1, a.B1, a.W2, a.B2, a.W3, a.B3)));
        var listing = Ad.Show(g, p, x, y);
        output.WriteLine(listing);
        Assert.Contains("gemm", listing);
    }

    [Fact]
    public void One_delegate_on_8_threads_with_mixed_shapes_gives_the_sequential_results()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (w, x) => Sum(Tanh(MatMul(w, x)) * 2.0 + Mean(Exp(-x * x), null, false), null, false) + Sum(Tanh(w), null, false);
        var h = Ad.Grad(f);
        var plain = h.Compile();
        var jitted = h.Jit();
        var inputs = new List<(Tensor W, Tensor X)>();
        for (int i = 0; i < 24; i++)
        {
            int m = 1 + i % 4, k = 1 + i % 3, n = i % 2 == 0 ? 1 + i % 5 : 40 + i;
            var key = PrngKey.Create(i);
            inputs.Add((Rng.Normal(key, [m, k], i % 3 == 0 ? DType.Float64 : DType.Float32), Rng.Normal(PrngKey.Create(i + 100), [k, n], i % 3 == 0 ? DType.Float64 : DType.Float32)));
        }
        var sequential = inputs.Select(c => plain(c.W, c.X)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var rng = new System.Random(t);
            for (int r = 0; r < 200; r++)
            {
                int i = rng.Next(inputs.Count);
                var got = jitted(inputs[i].W, inputs[i].X);
                if (Differ(sequential[i], got) is { } d) failures.Add($"thread {t}, input {i}: {d}");
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        Assert.Empty(failures);
        Assert.True(Ad.JitCompilations(jitted) <= inputs.Select(c => (c.W.Aval, c.X.Aval)).Distinct().Count());
    }

    [Fact]
    public void Same_signature_compiles_once_even_when_threads_race()
    {
        Expression<Func<Tensor, Tensor>> f = x => Tanh(x) * x;
        var jitted = f.Jit();
        var x3 = new Tensor(new float[] { 1, 2, 3 });
        var barrier = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() => { barrier.SignalAndWait(); jitted(x3); })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(1, Ad.JitCompilations(jitted));
        for (int i = 0; i < 10; i++) jitted(new Tensor(new float[] { i, 2, 3 }));
        Assert.Equal(1, Ad.JitCompilations(jitted));
        jitted(new Tensor(new double[] { 1, 2, 3 }));          // another dtype
        jitted(new Tensor(new float[] { 1, 2 }));              // another shape
        Assert.Equal(3, Ad.JitCompilations(jitted));
        jitted(x3);                                            // back to the first: cached
        Assert.Equal(3, Ad.JitCompilations(jitted));
    }

    [Fact]
    public void Shape_error_at_specialisation_names_the_subexpression_and_the_shapes()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (w, x) => Tanh(Dot(w, x)) + 1.0;
        var jitted = f.Jit();
        var e = Assert.ThrowsAny<ShapeException>(() => jitted(Np.Zeros([3, 2]), Np.Zeros([3])));
        Assert.Contains("Dot(w, x)", e.Message);
        Assert.Contains("float32[3,2]", e.Message);
        Assert.Contains("float32[3]", e.Message);
        output.WriteLine(e.Message);
    }

    [Fact]
    public void Gradient_seed_error_is_kept()
    {
        Expression<Func<Tensor, Tensor>> f = x => Tanh(x);
        var jitted = f.Grad().Jit();
        var e = Assert.Throws<GradException>(() => jitted(Np.Zeros([3])));
        Assert.Contains("float32[3]", e.Message);
        Assert.Contains("scalar output", e.Message);
    }

    [Fact]
    public void Show_prints_the_specialised_program_with_shapes()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Tanh(x) * 2.0, null, false);
        var text = Ad.Show(f, new Tensor(new float[] { 1, 2, 3 }));
        output.WriteLine(text);
        Assert.Contains("Np.Tanh(x)", text);
        Assert.Contains("float32[3]", text);
        Assert.Contains("float32[]", text);
    }

    [Fact]
    public void The_cache_keeps_no_dropped_function_alive()
    {
        static WeakReference Make()
        {
            Expression<Func<Tensor, Tensor>> f = x => Tanh(x) * x;
            var jitted = f.Jit();
            jitted(new Tensor(new float[] { 1, 2 }));
            return new WeakReference(jitted);
        }
        var w = Make();
        for (int i = 0; i < 3 && w.IsAlive; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        Assert.False(w.IsAlive);
    }
}
