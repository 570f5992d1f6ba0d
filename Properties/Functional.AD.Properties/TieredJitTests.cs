using System.Diagnostics;
using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The jit's interpreted start (<see cref="InterpretFirst"/>): a straight-line specialisation runs its first calls
/// through the expression interpreter while it is compiled on another thread. The interpreted code must give the
/// compiled code's results bit for bit (the same expression), the compiled code must take over, and code with loops
/// must not start interpreted. The rest of the suite runs with tiering off (see <see cref="TestSetup"/>).
/// </summary>
public class TieredJitTests
{
    public static IEnumerable<object[]> AllSpecs => JitTests.AllSpecs;

    /// <summary>Runs <paramref name="body"/> with tiering on for this thread.</summary>
    static void Tiered(Action body)
    {
        InterpretFirst.OnThisThread = true;
        try { body(); }
        finally { InterpretFirst.OnThisThread = null; }
    }

    /// <summary>Waits (up to 20 s) until every specialisation of <paramref name="jitted"/> runs compiled code.</summary>
    static void AwaitCompiled(Delegate jitted)
    {
        var cache = Ad.JitCache(jitted)!;
        var sw = Stopwatch.StartNew();
        while (cache.Interpreted > 0)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail("the compiled code of a specialisation did not arrive within 20 s");
            Thread.Sleep(1);
        }
    }

    static object? Call(Delegate d, object?[] args)
    {
        try { return d.DynamicInvoke(args); }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    /// <summary>Every element of every tensor leaf, as raw bits (NaN payloads and signed zeros included).</summary>
    static long[] Bits(object? o) => o switch
    {
        Tensor t => t.ToDoubleArray().Select(BitConverter.DoubleToInt64Bits).ToArray(),
        ITuple tuple => Enumerable.Range(0, tuple.Length).SelectMany(i => Bits(tuple[i])).ToArray(),
        double d => [BitConverter.DoubleToInt64Bits(d)],
        float f => [BitConverter.DoubleToInt64Bits(f)],
        _ => throw new InvalidOperationException($"unexpected output {o}"),
    };

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void The_interpreted_first_call_equals_the_compiled_code_bit_for_bit(string name) => Tiered(() =>
    {
        var spec = Specs.All.Single(s => s.Name == name);
        var check = new SpecCheck(spec);
        var jf = JitTests.JitAny(spec.Function);
        var jgrad = JitTests.JitAny(check.Gradient);
        var plain = spec.Function.Compile();
        var tuple = check.Gradient.Parameters[0].Type;
        var property = Prop.ForAll(Arb.From(spec.Inputs(DType.Float32).SelectMany(x => Gen.Choose(0, 1000).Select(seed => (x, seed)))), c =>
        {
            var args = c.x.Cast<object?>().ToArray();
            var w = Gens.Weights(((Tensor)Call(plain, args)!).Shape, DType.Float32, c.seed);
            object?[] gargs = [Activator.CreateInstance(tuple, c.x.Cast<object>().ToArray()), w];
            // first calls of these signatures (interpreted where the code suits), then the compiled code
            var first = (Bits(Call(jf, args)), Bits(Call(jgrad, gargs)));
            AwaitCompiled(jf);
            AwaitCompiled(jgrad);
            var compiled = (Bits(Call(jf, args)), Bits(Call(jgrad, gargs)));
            if (!first.Item1.SequenceEqual(compiled.Item1)) return false.Label($"{name} at {string.Join(", ", c.x.Select(t => t.Aval))}: interpreted and compiled differ");
            if (!first.Item2.SequenceEqual(compiled.Item2)) return false.Label($"gradient of {name} at {string.Join(", ", c.x.Select(t => t.Aval))}: interpreted and compiled differ");
            return JitTests.Differ(Call(plain, args), Call(jf, args)) is { } diff ? false.Label($"{name}: {diff}") : true.ToProperty();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(4).WithQuietOnSuccess(true), property);
    });

    [Fact]
    public void Most_spec_lines_at_small_shapes_start_interpreted() => Tiered(() =>
    {
        // the theory above checks interpreted against compiled; this makes sure it mostly checks interpreted code
        // (small shapes unroll into straight-line code; a spec whose lowering loops starts compiled)
        int interpreted = 0, total = 0;
        foreach (var spec in Specs.All)
        {
            var x = spec.Inputs(DType.Float32).Sample(2, 1).First();
            int before = InterpretFirst.Started;
            Call(JitTests.JitAny(spec.Function), x.Cast<object?>().ToArray());
            total++;
            if (InterpretFirst.Started > before) interpreted++;
        }
        Assert.True(interpreted * 2 > total, $"only {interpreted} of {total} spec lines started interpreted");
    });

    record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

    static readonly Expression<Func<Params, Tensor, Tensor, Tensor>> Loss = (p, x, y) =>
        Let(1.0 / (1 + Exp(-(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2))), o => -y * Log(o) - (1 - y) * Log(1 - o));

    [Fact]
    public void A_small_gradient_starts_interpreted_and_its_steady_calls_run_the_compiled_code() => Tiered(() =>
    {
        var p = Tree.Normal(PrngKey.Create(3), new Params(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));
        var (x, y) = (new Tensor(new float[] { 0, 1 }), Tensor.Scalar(1, DType.Float32));
        var g = Ad.Jit(Ad.Grad(Loss));
        int started = InterpretFirst.Started;
        var first = g(p, x, y);
        Assert.Equal(started + 1, InterpretFirst.Started);
        AwaitCompiled(g);
        var cache = Ad.JitCache(g)!;
        // the next call swaps the steady path to the compiled code if the compiling thread's own swap raced the first call
        var second = g(p, x, y);
        Assert.True(cache.LastIsCurrent, "the steady path does not run the specialisation's compiled code");
        Assert.Equal(1, cache.Compilations);
        Assert.Equal(Bits((first.W1, first.B1, first.W2, first.B2)), Bits((second.W1, second.B1, second.W2, second.B2)));
        // against the plain compiled expression (the oracle of the jit)
        var plain = Ad.Grad(Loss).Compile()(p, x, y);
        Assert.Null(JitTests.Differ((plain.W1, plain.B1, plain.W2, plain.B2), (second.W1, second.B1, second.W2, second.B2)));
    });

    [Fact]
    public void Threads_calling_while_the_compiled_code_arrives_all_get_the_same_bits()
    {
        // new signatures keep arriving (a new batch of shapes per round), so calls race the swap to compiled code
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Np.Sum(Tanh(a * b) * a + Exp(-b), null, false);
        var j = default(Func<Tensor, Tensor, Tensor>);
        Tiered(() => j = Ad.Jit(Ad.Grad(f)));
        var plain = Ad.Grad(f).Compile();
        for (int n = 1; n <= 6; n++)
        {
            var a = new Tensor(Enumerable.Range(0, n).Select(i => 0.3f * i - 0.5f).ToArray());
            var b = new Tensor(Enumerable.Range(0, n).Select(i => 0.1f * i + 0.2f).ToArray());
            var expected = plain(a, b);
            var results = new long[4][][];
            var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                InterpretFirst.OnThisThread = true;
                results[t] = Enumerable.Range(0, 200).Select(_ => Bits(j!(a, b))).ToArray();
            })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            var first = results[0][0];
            Assert.All(results.SelectMany(r => r), r => Assert.Equal(first, r));
            Assert.Null(JitTests.Differ(expected, j!(a, b)));
        }
        AwaitCompiled(j!);
        Assert.True(Ad.JitCache(j!)!.LastIsCurrent);
    }

    [Fact]
    public void An_error_at_run_time_is_the_same_exception_interpreted_and_compiled()
    {
        // an index out of range is found by the eager kernel when the call runs: the interpreter must not wrap it
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, i) => Take(x, i, 0) * 2;
        var (x, bad) = (new Tensor(new float[] { 1, 2, 3 }), new Tensor(new[] { 0, 5 }));
        Exception Run(bool tiered)
        {
            InterpretFirst.OnThisThread = tiered;
            try
            {
                var j = Ad.Jit(f);
                int started = InterpretFirst.Started;
                var e = Record.Exception(() => j(x, bad));
                Assert.Equal(tiered ? started + 1 : started, InterpretFirst.Started);
                return e!;
            }
            finally { InterpretFirst.OnThisThread = null; }
        }
        var interpreted = Run(true);
        var compiled = Run(false);
        Assert.NotNull(compiled);
        Assert.Equal(compiled.GetType(), interpreted.GetType());
        Assert.Equal(compiled.Message, interpreted.Message);
    }

    [Fact]
    public void Code_with_a_loop_starts_compiled() => Tiered(() =>
    {
        // 10,000 elements: a fused loop, which the interpreter would run slowly
        Expression<Func<Tensor, Tensor>> f = x => Tanh(x) * 2 + 1;
        var j = Ad.Jit(f);
        int started = InterpretFirst.Started;
        var r = j(new Tensor(Enumerable.Range(0, 10_000).Select(i => i * 1e-4f).ToArray()));
        Assert.Equal(started, InterpretFirst.Started);
        Assert.Equal(0, Ad.JitCache(j)!.Interpreted);
        Assert.Equal(MathF.Tanh(0.5f) * 2 + 1, r.ToDoubleArray()[5000], 5);
    });

    [Fact]
    public void Tiering_off_compiles_before_the_first_call()
    {
        // this assembly's default (TestSetup), which the rest of the suite relies on
        Assert.False(InterpretFirst.Enabled);
        Expression<Func<Tensor, Tensor>> f = x => Sin(x) * x;
        var j = Ad.Jit(f);
        int started = InterpretFirst.Started;
        j(new Tensor(new float[] { 1, 2, 3 }));
        Assert.Equal(started, InterpretFirst.Started);
        Assert.Equal(0, Ad.JitCache(j)!.Interpreted);
    }
}
