using System.Linq.Expressions;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using Xunit.Abstractions;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// float16 and bfloat16 in the CPU jit: elementwise chains over halves are unrolled (tiny tensors) or fused into one
/// loop (large ones) like float32 chains, computing in float32: operands are widened as they are read, values stay
/// float32 between the chain's operations and each result is rounded to its half dtype once, where it is stored. So
/// a jitted chain is the float32 computation of the whole chain rounded once (checked against an independent float64
/// oracle within the dtype's tolerance, <see cref="DTypeCases.Tolerance"/>), while eager code rounds after every
/// operation; the two agree within a bound on the eager roundings. Reductions and products of half values read the
/// float32 values and round their own results once. Mixed chains promote as eager code does. The listing
/// (<c>Ad.Show</c>) is checked too, so that none of this can quietly fall back to the eager kernels.
/// </summary>
public class JitHalfFusionTests(ITestOutputHelper output)
{
    static readonly DType[] Halves = [DType.Float16, DType.BFloat16];

    /// <summary>
    /// Sixteen elementwise nodes: arithmetic with weak scalars, exp, tanh, sigmoid, abs, sqrt, a comparison of the inputs
    /// and a select.
    /// </summary>
    static readonly Expression<Func<Tensor, Tensor, Tensor>> Chain = (x, y) =>
        Tanh(x * y + 0.5) * Exp(-x) - Sigmoid(y) / (1.0 + Abs(x)) + Where(Greater(x, y), Sqrt(Abs(y)), -x);

    /// <summary>The chain in float64, written out (the oracle).</summary>
    static double ChainF64(double x, double y) =>
        Math.Tanh(x * y + 0.5) * Math.Exp(-x) - 1 / (1 + Math.Exp(-y)) / (1 + Math.Abs(x)) + (x > y ? Math.Sqrt(Math.Abs(y)) : -x);

    /// <summary>∂ chain / ∂x in float64, by hand (the gradient's oracle).</summary>
    static double ChainDxF64(double x, double y)
    {
        double t = Math.Tanh(x * y + 0.5), e = Math.Exp(-x), s = 1 / (1 + Math.Exp(-y)), a = 1 + Math.Abs(x);
        return (1 - t * t) * y * e - t * e + s * Math.Sign(x) / (a * a) + (x > y ? 0 : -1);
    }

    static readonly Expression<Func<Tensor, Tensor, Tensor>> Loss = (x, y) => Sum(Chain.Invoke(x, y), null, false);

    static readonly Func<Tensor, Tensor, Tensor> ChainJit = Chain.Jit();
    static readonly Func<Tensor, Tensor, Tensor> ChainEager = Chain.Compile();
    static readonly Func<Tensor, Tensor, Tensor> GradJit = Ad.Grad(Loss).Jit();
    static readonly Func<Tensor, Tensor, Tensor> GradEager = Ad.Grad(Loss).Compile();

    /// <summary>Sizes: unrolled (7), one vector and a tail (17), one block exactly (2048), several blocks with a scalar tail (10011).</summary>
    static readonly int[][] Shapes = [[7], [17], [2048], [3, 3337]];

    /// <summary><paramref name="v"/> rounded to <paramref name="d"/> once, as a double.</summary>
    static double Round(double v, DType d) => d switch
    {
        DType.Float16 => (double)(Half)v,
        DType.BFloat16 => (double)(BFloat16)(float)v,
        DType.Float32 => (float)v,
        _ => v,
    };

    static Tensor Oracle(Func<double, double, double> f, Tensor x, Tensor y, DType d)
    {
        var (xs, ys) = (x.ToDoubleArray(), y.ToDoubleArray());
        return new Tensor(xs.Select((v, i) => Round(f(v, ys[i]), d)).ToArray(), x.Shape.ToArray()).AsType(d);
    }

    /// <summary>
    /// How far eager code may be from the float32 computation in this chain, in units of the dtype's tolerance (one
    /// unit in the last place): eager code rounds each of the chain's intermediate results, a relative error of half a
    /// unit each, which the rest of the chain scales by its derivatives (all of modest size for inputs in 0.25 .. 3).
    /// The worst seen over 30,000 elements of each half dtype was 1.3 units between eager and jitted values, 2.9
    /// between the eager gradient and the float64 one.
    /// </summary>
    const double EagerUlps = 4;

    static void CloseWithin(Tensor want, Tensor got, double tol, string what)
    {
        Assert.Equal(want.Shape, got.Shape);
        var (w, g) = (want.ToDoubleArray(), got.ToDoubleArray());
        for (int i = 0; i < w.Length; i++)
            Assert.True(w[i] == g[i] || Math.Abs(w[i] - g[i]) <= tol * Math.Max(1, Math.Abs(w[i])), $"{what}: element {i}: {g[i]:R}, want {w[i]:R} (tolerance {tol})");
    }

    static string Dims(int[] d) => "[" + string.Join(", ", d) + "]";

    static int Exact(Tensor a, Tensor b) => a.ToDoubleArray().Zip(b.ToDoubleArray()).Count(p => p.First == p.Second);

    /// <summary>
    /// The jitted chain over a half dtype has that dtype, is the float64 value rounded once (within the dtype's
    /// tolerance: one unit in the last place), and is within <see cref="EagerUlps"/> of the eager result; over many
    /// elements it matches the once-rounded oracle exactly far more often than eager code does.
    /// </summary>
    [Property(MaxTest = 24)]
    public Property A_jitted_half_chain_is_the_float32_chain_rounded_once(PositiveInt seed, byte shape)
    {
        var dims = Shapes[shape % Shapes.Length];
        foreach (var d in Halves)
        {
            var x = DTypeCases.Input(d, seed.Get, dims);
            var y = DTypeCases.Input(d, seed.Get + 7919, dims);
            var jit = ChainJit(x, y);
            var eager = ChainEager(x, y);
            Assert.Equal(d, jit.DType);
            Assert.Equal(eager.DType, jit.DType);
            var once = Oracle(ChainF64, x, y, d);
            DTypeCases.Close(once, jit, d, $"{DTypes.Name(d)} {Dims(dims)}: jit vs the float64 chain rounded once");
            CloseWithin(eager, jit, EagerUlps * DTypeCases.Tolerance(d), $"{DTypes.Name(d)} {Dims(dims)}: jit vs eager");
            int n = x.Size, jitExact = Exact(once, jit), eagerExact = Exact(once, eager);
            Assert.True(jitExact >= 0.99 * n, $"{DTypes.Name(d)}: the jit matches the once-rounded value in {jitExact} of {n} elements");
            if (n >= 2048) Assert.True(eagerExact < jitExact, $"{DTypes.Name(d)}: eager {eagerExact}, jit {jitExact} of {n} exact");
            // exactly the jitted float32 chain on the widened inputs, rounded once
            var wide = ChainJit(x.AsType(DType.Float32), y.AsType(DType.Float32));
            Assert.Equal(wide.AsType(d).ToDoubleArray(), jit.ToDoubleArray());
        }
        return true.ToProperty();
    }

    /// <summary>
    /// The gradient of the chain's sum, jitted over a half dtype: that dtype, and the gradient written out by hand in
    /// float64 rounded once, within the dtype's tolerance (the gradient's graph is several fused loops, which hand
    /// their values to each other in float32); the eager gradient is within <see cref="EagerUlps"/> of both.
    /// </summary>
    [Property(MaxTest = 12)]
    public Property The_gradient_of_a_half_chain_is_fused_and_close_to_the_float64_gradient(PositiveInt seed, byte shape)
    {
        var dims = Shapes[shape % Shapes.Length];
        foreach (var d in Halves)
        {
            var x = DTypeCases.Input(d, seed.Get, dims);
            var y = DTypeCases.Input(d, seed.Get + 104729, dims);
            var jit = GradJit(x, y);
            var eager = GradEager(x, y);
            Assert.Equal(d, jit.DType);
            Assert.Equal(d, eager.DType);
            var tol = EagerUlps * DTypeCases.Tolerance(d);
            DTypeCases.Close(Oracle(ChainDxF64, x, y, d), jit, d, $"{DTypes.Name(d)} {Dims(dims)}: jitted gradient vs the float64 one rounded once");
            CloseWithin(Oracle(ChainDxF64, x, y, DType.Float64), eager, tol, $"{DTypes.Name(d)} {Dims(dims)}: eager gradient vs float64");
            CloseWithin(eager, jit, tol, $"{DTypes.Name(d)} {Dims(dims)}: jitted vs eager gradient");
        }
        return true.ToProperty();
    }

    // ------------------------------------------------------------------ the listing says what ran

    static (int Lines, int Chains) Fused(string listing) =>
        (listing.Split('\n').Count(l => l.Contains("fused #")), Regex.Matches(listing, @"fused #(\d+)").Select(m => m.Groups[1].Value).Distinct().Count());

    /// <summary>A large half chain is one fused loop computing in float32, and no node runs its eager kernel.</summary>
    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void A_large_half_chain_is_one_fused_loop_with_nothing_eager(DType d)
    {
        var (x, y) = (DTypeCases.Input(d, 1, [3, 3337]), DTypeCases.Input(d, 2, [3, 3337]));
        var listing = Ad.Show(Chain, x, y);
        output.WriteLine(listing);
        var (lines, chains) = Fused(listing);
        Assert.Equal(1, chains);
        Assert.Equal(16, lines);   // all sixteen nodes of the chain
        Assert.Contains("halves in float32", listing);
        Assert.DoesNotContain("eager", listing);
        // and the gradient: every elementwise node fused, nothing eager but the listing's constants
        var grad = Ad.Show(Ad.Grad(Loss), x, y);
        output.WriteLine(grad);
        Assert.True(Fused(grad).Lines >= 15, grad);
        Assert.DoesNotContain("eager", grad);
    }

    /// <summary>A tiny half chain is unrolled into float32 scalar code, nothing eager.</summary>
    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void A_tiny_half_chain_is_unrolled_with_nothing_eager(DType d)
    {
        var listing = Ad.Show(Chain, DTypeCases.Input(d, 1, [7]), DTypeCases.Input(d, 2, [7]));
        output.WriteLine(listing);
        Assert.Equal(16, listing.Split('\n').Count(l => l.Contains("unrolled")));
        Assert.DoesNotContain("eager", listing);
    }

    // ------------------------------------------------------------------ mixed dtypes, rows, written intermediates

    static readonly Expression<Func<Tensor, Tensor, Tensor>> Mixed = (x, z) => Tanh(x) * z + x * 0.5;
    static readonly Func<Tensor, Tensor, Tensor> MixedJit = Mixed.Jit();

    public static IEnumerable<object[]> MixedPairs =>
    [
        [DType.Float16, DType.Float32], [DType.BFloat16, DType.Float32], [DType.Float16, DType.Float64],
        [DType.BFloat16, DType.Float64], [DType.Float16, DType.BFloat16], [DType.BFloat16, DType.Float16],
    ];

    /// <summary>
    /// A half operand in a chain with another dtype: the result has the promotion table's dtype, as eagerly. The half
    /// nodes (tanh(x), x * 0.5) compute in float32 and are not rounded to the half type; the others compute in the
    /// promoted dtype, the half widened as it is read. So the result is the float64 value within float32's tolerance,
    /// and it differs from eager code's, which rounds tanh(x) to the half type, by at most that rounding times |z|.
    /// </summary>
    [Theory]
    [MemberData(nameof(MixedPairs))]
    public void A_mixed_chain_promotes_as_eager_code_and_computes_in_the_promoted_float_type(DType dx, DType dz)
    {
        foreach (var dims in Shapes)
        {
            var x = DTypeCases.Input(dx, 11, dims);
            var z = DTypeCases.Input(dz, 12, dims);
            var want = DTypes.Promote(dx, false, dz, false).DType;
            var eager = Mixed.Compile()(x, z);
            var jit = MixedJit(x, z);
            Assert.Equal(want, eager.DType);
            Assert.Equal(want, jit.DType);
            DTypeCases.Close(Oracle((a, b) => Math.Tanh(a) * b + a * 0.5, x, z, want), jit, DType.Float32, $"{DTypes.Name(dx)} with {DTypes.Name(dz)} {Dims(dims)}: jit vs float64");
            var (e, j, zs) = (eager.ToDoubleArray(), jit.ToDoubleArray(), z.ToDoubleArray());
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(e[i] - j[i]) <= DTypeCases.Tolerance(dx) * Math.Max(1, Math.Abs(zs[i])), $"{DTypes.Name(dx)} with {DTypes.Name(dz)}: element {i}: jit {j[i]:R}, eager {e[i]:R}");
            if (x.Size > Codegen.Tiny)
            {
                // one loop; with float64, three: tanh(x) and x * 0.5 are float32 loops (not joined: neither is the
                // other's operand) that hand their values to the float64 loop unrounded
                var listing = Ad.Show(Mixed, x, z);
                Assert.Equal(dz == DType.Float64 ? 3 : 1, Fused(listing).Chains);
                Assert.DoesNotContain("eager", listing);
            }
        }
    }

    /// <summary>
    /// A half bias broadcast along the rows of a half matrix is read (widened once) inside the fused loop; an
    /// intermediate that is also returned is rounded where it is written, while the chain goes on with its float32
    /// value: both outputs are their float64 values rounded once.
    /// </summary>
    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void Half_rows_and_written_intermediates_are_rounded_once(DType d)
    {
        Expression<Func<Tensor, Tensor, Tensor>> bias = (x, b) => Tanh(x * 2.0 + b);
        var x = DTypeCases.Input(d, 21, [64, 48]);
        var b = DTypeCases.Input(d, 22, [48]);
        var got = bias.Jit()(x, b);
        var listing = Ad.Show(bias, x, b);
        output.WriteLine(listing);
        Assert.Equal(1, Fused(listing).Chains);
        Assert.DoesNotContain("eager", listing);
        Assert.Equal(d, got.DType);
        var bs = b.ToDoubleArray();
        var want = new Tensor(x.ToDoubleArray().Select((v, i) => Round(Math.Tanh(2 * v + bs[i % 48]), d)).ToArray(), [64, 48]).AsType(d);
        DTypeCases.Close(want, got, d, $"{DTypes.Name(d)}: Tanh(x * 2 + bias)");
        Assert.Equal(bias.Jit()(x.AsType(DType.Float32), b.AsType(DType.Float32)).AsType(d).ToDoubleArray(), got.ToDoubleArray());

        Expression<Func<Tensor, Tensor, (Tensor, Tensor)>> two = (u, v) => Let(u * v + 1.0, a => new ValueTuple<Tensor, Tensor>(a, Exp(-a) * u));
        var u = DTypeCases.Input(d, 23, [5000]);
        var v = DTypeCases.Input(d, 24, [5000]);
        var (a, r) = two.Jit()(u, v);
        var shown = Ad.Show(two, u, v);
        output.WriteLine(shown);
        Assert.Contains("written", shown);
        Assert.Equal(1, Fused(shown).Chains);
        Assert.Equal((d, d), (a.DType, r.DType));
        DTypeCases.Close(Oracle((p, q) => p * q + 1, u, v, d), a, d, $"{DTypes.Name(d)}: the written intermediate");
        DTypeCases.Close(Oracle((p, q) => Math.Exp(-(p * q + 1)) * p, u, v, d), r, d, $"{DTypes.Name(d)}: the chain past it");
    }

    // ------------------------------------------------------------------ reductions and products of half chains

    static readonly Expression<Func<Tensor, Tensor, Tensor>>[] Reductions =
    [
        (x, y) => Sum(Chain.Invoke(x, y), null, false),
        (x, y) => Mean(Chain.Invoke(x, y), -1, true) * x,
        (x, y) => Max(Chain.Invoke(x, y), null, false),
        (x, y) => LogSumExp(Chain.Invoke(x, y), -1, false),
        (x, y) => Softmax(Chain.Invoke(x, y), -1) * y,
    ];

    static readonly Func<double[], double[], double[]>[] ReductionsF64 =
    [
        (x, y) => [x.Select((v, i) => ChainF64(v, y[i])).Sum()],
        (x, y) => { var c = x.Select((v, i) => ChainF64(v, y[i])).ToArray(); double m = c.Average(); return x.Select(v => m * v).ToArray(); },
        (x, y) => [x.Select((v, i) => ChainF64(v, y[i])).Max()],
        (x, y) => { var c = x.Select((v, i) => ChainF64(v, y[i])).ToArray(); double m = c.Max(); return [m + Math.Log(c.Sum(v => Math.Exp(v - m)))]; },
        (x, y) => { var c = x.Select((v, i) => ChainF64(v, y[i])).ToArray(); double m = c.Max(), z = c.Sum(v => Math.Exp(v - m)); return c.Select((v, i) => Math.Exp(v - m) / z * y[i]).ToArray(); },
    ];

    public static IEnumerable<object[]> ReductionCases =>
        from k in Enumerable.Range(0, Reductions.Length) from d in Halves select new object[] { k, d };

    /// <summary>
    /// A reduction of a half chain (Sum, Mean, Max, LogSumExp, Softmax over the last axis) reads the chain's float32
    /// values and rounds its own result once: it is the float64 value rounded once within the dtype's tolerance, and
    /// exactly the jitted float32 program on the widened inputs rounded once, for tiny (unrolled) and large operands.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReductionCases))]
    public void A_reduction_of_a_half_chain_rounds_once(int k, DType d)
    {
        var f = Reductions[k];
        var jitted = f.Jit();
        foreach (var dims in new[] { new[] { 7 }, new[] { 40 }, new[] { 10011 } })
        {
            var x = DTypeCases.Input(d, 31 + k, dims);
            var y = DTypeCases.Input(d, 37 + k, dims);
            var got = jitted(x, y);
            var eager = f.Compile()(x, y);
            Assert.Equal(eager.DType, got.DType);
            Assert.Equal(d, got.DType);
            var w = ReductionsF64[k](x.ToDoubleArray(), y.ToDoubleArray());
            var want = new Tensor(w.Select(v => Round(v, d)).ToArray(), got.Shape.ToArray()).AsType(d);
            DTypeCases.Close(want, got, d, $"reduction {k}, {DTypes.Name(d)} {Dims(dims)}: jit vs float64");
            Assert.Equal(jitted(x.AsType(DType.Float32), y.AsType(DType.Float32)).AsType(d).ToDoubleArray(), got.ToDoubleArray());
            if (x.Size > 4 * Codegen.Tiny)
            {
                var listing = Ad.Show(f, x, y);
                Assert.Contains("in float32 (rounded where a half tensor is needed)", listing);
                Assert.True(Fused(listing).Lines >= 16, listing);
            }
        }
    }

    /// <summary>
    /// A product of half values computed by fused loops runs the GEMM in float32 on their unrounded values and rounds
    /// once: the float64 product rounded once, within the dtype's tolerance, and exactly the float32 program rounded once.
    /// </summary>
    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void A_product_of_half_chains_runs_the_gemm_in_float32(DType d)
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => MatMul(Tanh(a - 1.5), Tanh(b - 1.5));
        var a = DTypeCases.Input(d, 41, [64, 96]);
        var b = DTypeCases.Input(d, 42, [96, 80]);
        var got = f.Jit()(a, b);
        Assert.Equal(d, got.DType);
        Assert.Equal(f.Compile()(a, b).DType, got.DType);
        var (av, bv) = (a.ToDoubleArray(), b.ToDoubleArray());
        var want = new double[64 * 80];
        for (int i = 0; i < 64; i++)
            for (int j = 0; j < 80; j++)
            {
                double sum = 0;
                for (int q = 0; q < 96; q++) sum += Math.Tanh(av[i * 96 + q] - 1.5) * Math.Tanh(bv[q * 80 + j] - 1.5);
                want[i * 80 + j] = Round(sum, d);
            }
        DTypeCases.Close(new Tensor(want, [64, 80]).AsType(d), got, d, $"{DTypes.Name(d)}: MatMul of two half chains");
        Assert.Equal(f.Jit()(a.AsType(DType.Float32), b.AsType(DType.Float32)).AsType(d).ToDoubleArray(), got.ToDoubleArray());
        var listing = Ad.Show(f, a, b);
        output.WriteLine(listing);
        Assert.Contains("gemm in float32", listing);
        Assert.Equal(2, Fused(listing).Chains);
    }

    /// <summary>
    /// Float32's range between fused operations: in float16, <c>x * y</c> beyond 65504 is infinite eagerly, so
    /// <c>x * y / y</c> is too, while the jit's float32 intermediate keeps it finite and gives x back.
    /// </summary>
    [Fact]
    public void A_float16_intermediate_beyond_its_range_stays_finite_in_the_jit()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, y) => x * y / y;
        foreach (var n in new[] { 7, 5000 })
        {
            var x = Np.Full([n], 300, DType.Float16);
            var y = Np.Full([n], 400, DType.Float16);
            Assert.All(f.Compile()(x, y).ToDoubleArray(), v => Assert.True(double.IsPositiveInfinity(v)));
            var got = f.Jit()(x, y);
            Assert.Equal(DType.Float16, got.DType);
            Assert.All(got.ToDoubleArray(), v => Assert.Equal(300.0, v));
        }
    }

    /// <summary>
    /// The block conversions of the fused loops give exactly the scalar conversions (which eager code uses): on ties,
    /// subnormals, the largest values, infinities, signed zeros and NaN, across a vector's length and a tail.
    /// </summary>
    [Fact]
    public void Block_conversions_equal_the_scalar_conversions_on_special_values()
    {
        var special = new List<float> { 0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, 1e-40f, 6e-8f, 6.1e-5f, 65504f, 65520f, 7e4f, -7e4f,
            float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN, 3.3895314e38f };
        // ties of bfloat16 (the dropped half exactly 0x8000, last kept bit odd and even) and of float16 (1 + 2^-11, 1 + 3 * 2^-11)
        special.AddRange([BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000), 1 + 1f / 2048, 1 + 3f / 2048]);
        var rng = new System.Random(5);
        while (special.Count < 77) special.Add(BitConverter.Int32BitsToSingle(rng.Next(int.MinValue, int.MaxValue)));
        var f = special.ToArray();
        var h = new Half[f.Length];
        var b = new BFloat16[f.Length];
        JitRt.Narrow(f, h, 0, f.Length);
        JitRt.Narrow(f, b, 0, f.Length);
        for (int i = 0; i < f.Length; i++)
        {
            Assert.True(BitConverter.HalfToUInt16Bits(h[i]) == BitConverter.HalfToUInt16Bits((Half)f[i]) || float.IsNaN(f[i]) && Half.IsNaN(h[i]), $"float16 of {f[i]:R}");
            Assert.True(b[i].Bits == ((BFloat16)f[i]).Bits, $"bfloat16 of {f[i]:R}: {b[i].Bits:X4}, want {((BFloat16)f[i]).Bits:X4}");
        }
        var wh = new float[f.Length];
        var wb = new float[f.Length];
        var wd = new double[f.Length];
        JitRt.Widen(h, wh, 0, f.Length);
        JitRt.Widen(b, wb, 0, f.Length);
        JitRt.Widen(b, wd, 0, f.Length);
        for (int i = 0; i < f.Length; i++)
        {
            Assert.True(wh[i].Equals((float)h[i]), $"float32 of float16 {h[i]}");
            Assert.True(BitConverter.SingleToUInt32Bits(wb[i]) == BitConverter.SingleToUInt32Bits((float)b[i]), $"float32 of bfloat16 {b[i]}");
            Assert.True(wd[i].Equals((double)b[i]), $"float64 of bfloat16 {b[i]}");
        }
    }
}
