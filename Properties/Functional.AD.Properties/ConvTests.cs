using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// <c>Lax.Conv</c> against an independent loop-nest convolution written here in float64 (XLA's definition: lhs dilated
/// then padded, kernel dilated, feature and batch groups), on random geometries covering every parameter; its two
/// transposes against the same oracle through the dot test; gradients against central differences; Vmap against a
/// loop (per-example inputs, per-example kernels, both); Jit against eager; and typed errors for bad shapes.
/// </summary>
public class ConvTests
{
    /// <summary>One random convolution: shapes channels-first, parameters as Lax.Conv takes them.</summary>
    public sealed record Geometry(int D, int N, int C, int O, int[] X, int[] K, int[] Strides, int[] Padding, int[] LhsDil, int[] RhsDil, int Fg, int Bg, int Seed)
    {
        public override string ToString() =>
            $"{D}-D N={N} C={C} O={O} X=[{string.Join(",", X)}] K=[{string.Join(",", K)}] strides=[{string.Join(",", Strides)}] padding=[{string.Join(",", Padding)}] lhsDil=[{string.Join(",", LhsDil)}] rhsDil=[{string.Join(",", RhsDil)}] fg={Fg} bg={Bg}";
    }

    static readonly Gen<Geometry> Geometries =
        from d in Gen.Choose(1, 3)
        from groups in Gen.Elements(1, 1, 2, 3)
        from batchGroups in Gen.Elements(true, false, false)
        from ci in Gen.Choose(1, 2)
        from oi in Gen.Choose(1, 2)
        from n in Gen.Choose(1, 2)
        from k in Gen.Choose(1, 3).ArrayOf(d)
        from x in Gen.Choose(1, 5).ArrayOf(d)
        from s in Gen.Choose(1, 3).ArrayOf(d)
        from dl in Gen.Choose(1, 2).ArrayOf(d)
        from dr in Gen.Choose(1, 2).ArrayOf(d)
        from pad in Gen.Choose(-1, 2).ArrayOf(2 * d)
        from seed in Gen.Choose(0, 1 << 30)
        let fg = batchGroups ? 1 : groups
        let bg = batchGroups ? groups : 1
        let c = batchGroups ? ci : ci * fg
        let geo = new Geometry(d, n * bg, c, oi * groups, x, k, s, pad, dl, dr, fg, bg, seed)
        where Enumerable.Range(0, d).All(i => (x[i] - 1) * dl[i] + 1 + pad[2 * i] + pad[2 * i + 1] >= (k[i] - 1) * dr[i] + 1)
        select geo;

    static Tensor Random(int[] shape, Random rng) =>
        new(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), shape);

    static int[] Out(Geometry g) =>
        [g.N / g.Bg, g.O, .. Enumerable.Range(0, g.D).Select(i => ((g.X[i] - 1) * g.LhsDil[i] + 1 + g.Padding[2 * i] + g.Padding[2 * i + 1] - ((g.K[i] - 1) * g.RhsDil[i] + 1)) / g.Strides[i] + 1)];

    /// <summary>The oracle: every output element as the sum over taps of the dilated, padded input, by definition.</summary>
    internal static double[] Naive(Geometry g, double[] x, double[] w)
    {
        var o = Out(g);
        int d = g.D, nOut = o[0], I = g.C / g.Fg, G = Math.Max(g.Fg, g.Bg), og = g.O / G;
        int[] ys = o[2..];
        int ySize = ys.Aggregate(1, (a, b) => a * b), kSize = g.K.Aggregate(1, (a, b) => a * b), xSize = g.X.Aggregate(1, (a, b) => a * b);
        var r = new double[nOut * g.O * ySize];
        var yi = new int[d];
        var ki = new int[d];
        for (int n = 0; n < nOut; n++)
            for (int oc = 0; oc < g.O; oc++)
            {
                int grp = oc / og;
                int src = g.Bg > 1 ? grp * nOut + n : n;
                for (int yp = 0; yp < ySize; yp++)
                {
                    for (int a = d - 1, rest = yp; a >= 0; a--) { yi[a] = rest % ys[a]; rest /= ys[a]; }
                    double sum = 0;
                    for (int i = 0; i < I; i++)
                    {
                        int ch = g.Fg > 1 ? grp * I + i : i;
                        for (int kp = 0; kp < kSize; kp++)
                        {
                            for (int a = d - 1, rest = kp; a >= 0; a--) { ki[a] = rest % g.K[a]; rest /= g.K[a]; }
                            int xp = 0;
                            bool inside = true;
                            for (int a = 0; a < d && inside; a++)
                            {
                                int z = yi[a] * g.Strides[a] + ki[a] * g.RhsDil[a] - g.Padding[2 * a];
                                if (z < 0 || z % g.LhsDil[a] != 0 || z / g.LhsDil[a] >= g.X[a]) inside = false;
                                else xp = xp * g.X[a] + z / g.LhsDil[a];
                            }
                            if (!inside) continue;
                            sum += x[(src * g.C + ch) * xSize + xp] * w[(oc * I + i) * kSize + kp];
                        }
                    }
                    r[(n * g.O + oc) * ySize + yp] = sum;
                }
            }
        return r;
    }

    static Tensor Conv(Geometry g, Tensor x, Tensor w) => Lax.Conv(x, w, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg);

    static (Tensor X, Tensor W, Tensor Ct) Operands(Geometry g)
    {
        var rng = new Random(g.Seed);
        return (Random([g.N, g.C, .. g.X], rng), Random([g.O, g.C / g.Fg, .. g.K], rng), Random(Out(g), rng));
    }

    /// <summary>
    /// Rows long enough for the kernels' vector copies and adds (the last axis 6 to 40 wide, so output lines of 8 and
    /// more), 1-D and 2-D, no lhs dilation (the dense im2col and col2im) or some, strides, padding including negative,
    /// rhs dilation, feature groups.
    /// </summary>
    static readonly Gen<Geometry> WideGeometries =
        from d in Gen.Choose(1, 2)
        from groups in Gen.Elements(1, 1, 2)
        from ci in Gen.Choose(1, 3)
        from oi in Gen.Choose(1, 3)
        from n in Gen.Choose(1, 3)
        from k in Gen.Choose(1, 3).ArrayOf(d)
        from x0 in Gen.Choose(1, 5)
        from x1 in Gen.Choose(6, 40)
        from s in Gen.Elements(1, 1, 2).ArrayOf(d)
        from dl in Gen.Elements(1, 1, 1, 2).ArrayOf(d)
        from dr in Gen.Choose(1, 2).ArrayOf(d)
        from pad in Gen.Choose(-1, 2).ArrayOf(2 * d)
        from seed in Gen.Choose(0, 1 << 30)
        let x = d == 1 ? new[] { x1 } : new[] { x0, x1 }
        let geo = new Geometry(d, n, ci * groups, oi * groups, x, k, s, pad, dl, dr, groups, 1, seed)
        where Enumerable.Range(0, d).All(i => (x[i] - 1) * dl[i] + 1 + pad[2 * i] + pad[2 * i + 1] >= (k[i] - 1) * dr[i] + 1)
        select geo;

    static void ForAll(Action<Geometry> check, int count = 150) => ForAll(Geometries, check, count);

    static void ForAll(Gen<Geometry> gen, Action<Geometry> check, int count) =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(Arb.From(gen), g =>
        {
            try { check(g); }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException) { throw new Xunit.Sdk.XunitException($"{g}: {e}"); }
        }));

    static void Near(double[] actual, double[] expected, string what, Geometry g, double tol = 1e-10)
    {
        Assert.True(actual.Length == expected.Length, $"{g}: {what} has {actual.Length} elements, expected {expected.Length}");
        for (int i = 0; i < actual.Length; i++)
            if (Math.Abs(actual[i] - expected[i]) > tol * (1 + Math.Abs(expected[i])))
                throw new Xunit.Sdk.XunitException($"{g}: {what}[{i}] = {actual[i]:R}, expected {expected[i]:R}");
    }

    static double Inner(Tensor a, Tensor b) => a.ToDoubleArray().Zip(b.ToDoubleArray(), (p, q) => p * q).Sum();

    [Fact]
    public void Conv_equals_the_loop_nest_definition_float64()
    {
        ForAll(g =>
        {
            var (x, w, _) = Operands(g);
            var y = Conv(g, x, w);
            Assert.Equal(Out(g), y.Shape.ToArray());
            Near(y.ToDoubleArray(), Naive(g, x.ToDoubleArray(), w.ToDoubleArray()), "Lax.Conv", g);
        });
    }

    [Fact]
    public void Wide_rows_conv_and_its_transposes_equal_the_loop_nest_in_float64_and_float32()
    {
        ForAll(WideGeometries, g =>
        {
            var (x, w, ct) = Operands(g);
            foreach (var t in new[] { DType.Float64, DType.Float32 })
            {
                // rounding error is bounded by the unit roundoff times the number of terms times the sum of the terms'
                // magnitudes (at most 600 terms here): 1e-4 of the magnitude in float32 (2^-24 x 600 = 3.6e-5), far below
                // the O(1) error of a wrong index
                double tol = t == DType.Float64 ? 1e-12 : 1e-4;
                var (xt, wt, ctt) = (x.AsType(t), w.AsType(t), ct.AsType(t));
                var (xd, wd, cd) = (xt.ToDoubleArray(), wt.ToDoubleArray(), ctt.ToDoubleArray());
                var exactY = Naive(g, xd, wd);
                var magnitudeY = Naive(g, xd.Select(Math.Abs).ToArray(), wd.Select(Math.Abs).ToArray());
                var y = Conv(g, xt, wt);
                Assert.Equal(t, y.DType);
                var got = y.ToDoubleArray();
                Assert.Equal(exactY.Length, got.Length);
                for (int i = 0; i < got.Length; i++)
                    Assert.True(Math.Abs(got[i] - exactY[i]) <= tol * (1 + magnitudeY[i]), $"{g} {t}: Lax.Conv[{i}] = {got[i]:R}, expected {exactY[i]:R}");
                // the transposes by the dot test, on the operands as rounded to t, the products formed in float64
                double exact = exactY.Zip(cd, (p, q) => p * q).Sum();
                double magnitude = magnitudeY.Zip(cd, (p, q) => p * Math.Abs(q)).Sum();
                var gx = Lax.ConvTransposeLhs(ctt, wt, xt.Aval, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg);
                var gw = Lax.ConvTransposeRhs(xt, ctt, wt.Aval, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg);
                Assert.True(Math.Abs(Inner(xt, gx) - exact) <= tol * (1 + magnitude), $"{g} {t}: <x, x̄> = {Inner(xt, gx):R}, <Conv(x, w), ct> = {exact:R}");
                Assert.True(Math.Abs(Inner(wt, gw) - exact) <= tol * (1 + magnitude), $"{g} {t}: <w, w̄> = {Inner(wt, gw):R}, <Conv(x, w), ct> = {exact:R}");
            }
        }, 150);
    }

    [Fact]
    public void Channels_last_is_the_channels_first_convolution_transposed()
    {
        ForAll(g =>
        {
            var (x, w, _) = Operands(g);
            int r = g.D + 2;
            int[] toLast = [0, .. Enumerable.Range(2, g.D), 1];
            int[] kernelToLast = [.. Enumerable.Range(2, g.D), 1, 0];
            var y = Lax.Conv(Transpose(x, toLast), Transpose(w, kernelToLast), g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg, ConvLayout.ChannelsLast);
            Near(y.ToDoubleArray(), Transpose(Conv(g, x, w), toLast).ToDoubleArray(), "channels-last Lax.Conv", g);
            Assert.Equal(r, y.Rank);
        }, 60);
    }

    [Fact]
    public void Transposes_satisfy_the_dot_test_against_the_loop_nest()
    {
        // <Conv(x, w), ct> computed by the oracle equals <x, ConvTransposeLhs(ct, w)> and <w, ConvTransposeRhs(x, ct)>
        ForAll(g =>
        {
            var (x, w, ct) = Operands(g);
            double lhs = Naive(g, x.ToDoubleArray(), w.ToDoubleArray()).Zip(ct.ToDoubleArray(), (p, q) => p * q).Sum();
            var gx = Lax.ConvTransposeLhs(ct, w, x.Aval, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg);
            var gw = Lax.ConvTransposeRhs(x, ct, w.Aval, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg);
            Assert.True(Math.Abs(Inner(x, gx) - lhs) <= 1e-9 * (1 + Math.Abs(lhs)), $"{g}: <x, x̄> = {Inner(x, gx):R}, <Conv(x, w), ct> = {lhs:R}");
            Assert.True(Math.Abs(Inner(w, gw) - lhs) <= 1e-9 * (1 + Math.Abs(lhs)), $"{g}: <w, w̄> = {Inner(w, gw):R}, <Conv(x, w), ct> = {lhs:R}");
        });
    }

    [Fact]
    public void Gradients_match_central_differences_and_jit_matches_eager()
    {
        ForAll(g =>
        {
            var (x, w, ct) = Operands(g);
            // a non-linear scalar of the convolution, so the gradient depends on both operands
            Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Sum(Tanh(Lax.Conv(a, b, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg, ConvLayout.ChannelsFirst)) * ct, null, false);
            Expression<Func<Tensor, Tensor>> inX = a => f.Invoke(a, w);
            Expression<Func<Tensor, Tensor>> inW = b => f.Invoke(x, b);
            var rx = GradCheck.Check(inX, x, 1e-5, 1e-6);
            var rw = GradCheck.Check(inW, w, 1e-5, 1e-6);
            Assert.True(rx.Ok, $"{g}: input gradient: {rx}");
            Assert.True(rw.Ok, $"{g}: kernel gradient: {rw}");
            var grad = Ad.Grad(f);
            Near(grad.Jit()(x, w).ToDoubleArray(), grad.Compile()(x, w).ToDoubleArray(), "jitted gradient", g, 1e-9);
            Near(f.Jit()(x, w).ToDoubleArray(), f.Compile()(x, w).ToDoubleArray(), "jitted value", g, 1e-9);
        }, 60);
    }

    [Fact]
    public void Vmap_over_inputs_kernels_or_both_equals_a_loop()
    {
        ForAll(g =>
        {
            var rng = new Random(g.Seed);
            int b = 3;
            var xs = Random([b, g.N, g.C, .. g.X], rng);
            var ws = Random([b, g.O, g.C / g.Fg, .. g.K], rng);
            Expression<Func<Tensor, Tensor, Tensor>> f = (a, k) => Lax.Conv(a, k, g.Strides, g.Padding, g.LhsDil, g.RhsDil, g.Fg, g.Bg, ConvLayout.ChannelsFirst);
            var one = f.Compile();
            Tensor Ex(Tensor t, int i) => Reshape(Take(t, new Tensor(new double[] { i }), 0), t.Shape.Skip(1).ToArray());
            foreach (var (axes, name) in new[] { (new int?[] { 0, null }, "inputs"), (new int?[] { null, 0 }, "kernels"), (new int?[] { 0, 0 }, "both") })
            {
                var x0 = axes[0] is null ? Ex(xs, 0) : xs;
                var w0 = axes[1] is null ? Ex(ws, 0) : ws;
                var loop = Stack(Enumerable.Range(0, b).Select(i => one(axes[0] is null ? x0 : Ex(xs, i), axes[1] is null ? w0 : Ex(ws, i))).ToArray(), 0);
                var v = Ad.Vmap(f, axes);
                Near(v.Compile()(x0, w0).ToDoubleArray(), loop.ToDoubleArray(), $"Vmap over {name}", g, 1e-9);
                Near(v.Jit()(x0, w0).ToDoubleArray(), loop.ToDoubleArray(), $"Jit(Vmap) over {name}", g, 1e-9);
                // per-example gradients of a scalar loss go through the batched transposes
                Expression<Func<Tensor, Tensor, Tensor>> loss = (a, k) => Sum(Square(f.Invoke(a, k)), null, false);
                var pg = Ad.Vmap(Ad.Grad(loss), axes);
                var pgLoop = Stack(Enumerable.Range(0, b).Select(i => Ad.Grad(loss).Compile()(axes[0] is null ? x0 : Ex(xs, i), axes[1] is null ? w0 : Ex(ws, i))).ToArray(), 0);
                Near(pg.Jit()(x0, w0).ToDoubleArray(), pgLoop.ToDoubleArray(), $"per-example input gradients over {name}", g, 1e-9);
            }
        }, 40);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Jitted_convolutions_write_into_the_arena_and_stay_right_over_repeated_and_concurrent_calls(DType t)
    {
        // two layers with a max pool between: the first layer's output, the pool and the cotangents between the layers
        // (the lhs cotangent, the pool's scatter) are intermediates (arena buffers reused by every call); the kernel
        // cotangents are results (fresh arrays)
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss = (k1, k2, x) =>
            Sum(Tanh(Conv2d(MaxPool2d(Relu(Conv2d(x, k1, 1, 1)), 2), k2, 1, 1)), null, false);
        var g = Ad.Grad(loss);
        var rng = new Random(4);
        var k1 = Random([4, 2, 3, 3], rng).AsType(t);
        var k2 = Random([3, 4, 3, 3], rng).AsType(t);
        var xs = Enumerable.Range(0, 4).Select(_ => Random([5, 2, 6, 6], rng).AsType(t)).ToArray();
        var jit = g.Jit();
        var listing = Ad.Show(g, k1, k2, xs[0]);
        foreach (var op in new[] { "Lax.Conv(", "Lax.ConvTransposeLhs(", "Lax.ReduceWindowMax(", "Lax.SelectAndScatterAdd(" })
            Assert.Contains(listing.Split('\n'), l => l.Contains(op) && l.Contains("kernel into the arena"));
        // the first call of each against eager code (the jit's fused tanh may differ in the last bits), then every later
        // call, repeated or concurrent, bit for bit against the first
        var expected = xs.Select(x => jit(k1, k2, x).ToDoubleArray()).ToArray();
        for (int i = 0; i < xs.Length; i++)
            Near(expected[i], g.Compile()(k1, k2, xs[i]).ToDoubleArray(), "jitted gradient", null!, t == DType.Float32 ? 1e-4 : 1e-10);
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < xs.Length; i++)
                Assert.Equal(expected[i], jit(k1, k2, xs[i]).ToDoubleArray());
        // concurrent calls take separate arenas
        var results = new double[8][];
        Parallel.For(0, 8, i => results[i] = jit(k1, k2, xs[i % 4]).ToDoubleArray());
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i % 4], results[i]);
        // a result kept from one call is not overwritten by the next
        var kept = jit(k1, k2, xs[0]);
        jit(k1, k2, xs[1]);
        Assert.Equal(expected[0], kept.ToDoubleArray());
    }

    [Fact]
    public void Np_conveniences_read_inside_expressions_and_equal_their_eager_calls()
    {
        var rng = new Random(3);
        var x = Random([2, 4, 7, 6], rng);
        var w = Random([6, 2, 3, 3], rng);
        Expression<Func<Tensor, Tensor, Tensor>> plain = (a, b) => Conv2d(a, b);
        Expression<Func<Tensor, Tensor, Tensor>> strided = (a, b) => Conv2d(a, b, 2, 1);
        Expression<Func<Tensor, Tensor, Tensor>> grouped = (a, b) => Conv2d(a, b, 1, 2, 2, 2);
        Near(plain.Jit()(x, Random([3, 4, 3, 3], new Random(1))).ToDoubleArray(), Conv2d(x, Random([3, 4, 3, 3], new Random(1))).ToDoubleArray(), "Conv2d(x, w)", null!);
        Near(strided.Jit()(x, Random([3, 4, 3, 3], new Random(1))).ToDoubleArray(), Conv2d(x, Random([3, 4, 3, 3], new Random(1)), 2, 1).ToDoubleArray(), "Conv2d(x, w, 2, 1)", null!);
        Near(grouped.Jit()(x, w).ToDoubleArray(), Conv2d(x, w, 1, 2, 2, 2).ToDoubleArray(), "Conv2d(x, w, 1, 2, 2, 2)", null!);
        // the transposed convolution undoes the shape of the strided one
        Expression<Func<Tensor, Tensor, Tensor>> up = (a, b) => ConvTranspose2d(Conv2d(a, b, 2, 1), b, 2, 1, 1, 1, 1);
        var k = Random([3, 4, 3, 3], new Random(2));
        Assert.Equal(new[] { 2, 4, 6, 6 }, up.Jit()(Take(x, new Tensor(new double[] { 0, 1, 2, 3, 4, 5 }), 2), k).Shape.ToArray());
        // printed as C# that names the public spelling, and the gradient prints its transposes
        var shown = Ad.Show(Ad.Grad((Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => Sum(Conv2d(a, b, 2, 1), null, false))));
        Assert.Contains("Lax.ConvTransposeLhs(", shown);
        Assert.Contains("windowStrides: new int[] { 2, 2 }", shown);
    }

    [Fact]
    public void Second_order_derivative_through_the_transposes_matches_differences_of_the_gradient()
    {
        var rng = new Random(5);
        var x = Random([2, 2, 5, 4], rng);
        var w = Random([3, 2, 2, 3], rng);
        var v = Random([3, 2, 2, 3], rng);
        Expression<Func<Tensor, Tensor>> f = k => Sum(Tanh(Lax.Conv(x, k, new[] { 2, 1 }, "SAME", null, new[] { 1, 2 }, 1, 1, ConvLayout.ChannelsFirst)), null, false);
        var grad = Ad.Grad(f);
        // d/dt <grad(w + t v), v> at 0, by forward over reverse and by central differences of the gradient
        Expression<Func<Tensor, Tensor>> along = k => Sum(grad.Invoke(k) * v, null, false);
        var second = Ad.Grad(along).Compile()(w);
        double h = 1e-5;
        double fd = (Inner(grad.Compile()(w + v * h), v) - Inner(grad.Compile()(w - v * h), v)) / (2 * h);
        double exact = Inner(second, v);
        Assert.True(Math.Abs(exact - fd) <= 1e-6 * (1 + Math.Abs(fd)), $"second derivative {exact:R} vs differences {fd:R}");
    }

    [Fact]
    public void Bad_shapes_give_a_typed_error_naming_the_subexpression_and_the_shapes()
    {
        var x = Np.Zeros([2, 3, 8, 8], DType.Float64);
        var w = Np.Zeros([4, 2, 3, 3], DType.Float64);
        // channel mismatch, eagerly
        var e1 = Assert.Throws<ShapeException>(() => Conv2d(x, w));
        Assert.Contains("3 input channels", e1.Message);
        Assert.Contains("float64[2,3,8,8]", e1.Message);
        Assert.Contains("float64[4,2,3,3]", e1.Message);
        // channel mismatch in a jitted function: the subexpression is named
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Sum(Relu(Conv2d(a, b, 1, 1)), null, false);
        var e2 = Assert.Throws<ShapeException>(() => f.Jit()(x, w));
        Assert.Contains("Conv2d(a, b, 1, 1)", e2.Message);
        Assert.Contains("float64[2,3,8,8]", e2.Message);
        Assert.Contains("must be equal", e2.Message);
        // wrong rank
        var e3 = Assert.Throws<ShapeException>(() => Ad.Grad(f).Jit()(Np.Zeros([3, 8, 8], DType.Float64), w));
        Assert.Contains("rank-4", e3.Message);
        Assert.Contains("Conv2d(a, b, 1, 1)", e3.Message);
        // a window larger than the padded input
        var e4 = Assert.Throws<ShapeException>(() => Conv2d(Np.Zeros([1, 2, 2, 2], DType.Float64), w));
        Assert.Contains("larger than the padded input", e4.Message);
        // integers are refused
        var e5 = Assert.Throws<ShapeException>(() => Conv2d(Np.Zeros([2, 2, 8, 8], DType.Int32), Np.Zeros([4, 2, 3, 3], DType.Int32)));
        Assert.Contains("float", e5.Message);
        // static arguments are checked when the call is made
        Assert.Throws<ArgumentException>(() => Lax.Conv(x, w, new[] { 1, 1 }, "FULL"));
        Assert.Throws<ArgumentException>(() => Lax.Conv(x, w, new[] { 1, 1 }, new[] { 1, 1 }));
    }
}

/// <summary>Tests that set the process-wide thread count of the products (<c>Gemm.MaxThreads</c>) run alone.</summary>
[CollectionDefinition(nameof(ThreadCountCollection), DisableParallelization = true)]
public sealed class ThreadCountCollection;

/// <summary>
/// The kernel gradient's result is never cleared before it is written (thread 0 copies its first chunk's products into
/// every group's block; later chunks and the other threads' sums add), nor is the forward convolution's: each written
/// into a buffer full of NaN, on one and two threads, with several chunks of samples per thread and feature groups,
/// equals a loop over its definition.
/// </summary>
[Collection(nameof(ThreadCountCollection))]
public sealed class ConvKernelGradientThreadTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(2, 2, 2)]
    public void The_kernel_gradient_and_the_convolution_written_into_buffers_of_NaN_equal_loops_over_their_definitions(int threads, int groups, int stride)
    {
        // 24 samples of 8 x 24 x 24 and 16 output channels: above the size at which the kernel gradient runs on more than
        // one thread, and about six samples per chunk, so each thread sums more than one chunk
        const int n = 24, c = 8, o = 16, h = 24, k = 3, pad = 1;
        int y = (h + 2 * pad - k) / stride + 1, cg = c / groups, og = o / groups;
        var rng = new Random(17 + threads + 10 * groups + 100 * stride);
        double[] R(int count) => Enumerable.Range(0, count).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var (xs, gs, ws) = (R(n * c * h * h), R(n * o * y * y), R(o * cg * k * k));
        var p = ConvParams.Conv([stride, stride], [pad, pad, pad, pad], null, null, groups, 1, ConvLayout.ChannelsFirst);
        int saved = Gemm.MaxThreads;
        try
        {
            Gemm.MaxThreads = threads;
            foreach (var t in new[] { DType.Float64, DType.Float32 })
            {
                var x = new Tensor(xs, [n, c, h, h]).AsType(t);
                var g = new Tensor(gs, [n, o, y, y]).AsType(t);
                var (xd, gd) = (x.ToDoubleArray(), g.ToDoubleArray());
                Array Nans(int count) => t == DType.Float64 ? Enumerable.Repeat(double.NaN, count).ToArray() : Enumerable.Repeat(float.NaN, count).ToArray();
                var w = ConvOps.ConvTransposeRhs(x, g, new Aval([o, cg, k, k], t), p, Nans(o * cg * k * k)).ToDoubleArray();
                // the forward convolution, written into a buffer of NaN too (every element is written, none cleared),
                // against the loop-nest oracle of ConvTests, with the same tolerance as there
                var kernel = new Tensor(ws, [o, cg, k, k]).AsType(t);
                var kd = kernel.ToDoubleArray();
                var conv = ConvOps.Conv(x, kernel, p, Nans(n * o * y * y)).ToDoubleArray();
                var geo = new ConvTests.Geometry(2, n, c, o, [h, h], [k, k], [stride, stride], [pad, pad, pad, pad], [1, 1], [1, 1], groups, 1, 0);
                var exact = ConvTests.Naive(geo, xd, kd);
                var magnitudes = ConvTests.Naive(geo, xd.Select(Math.Abs).ToArray(), kd.Select(Math.Abs).ToArray());
                Assert.Equal(exact.Length, conv.Length);
                double tolY = t == DType.Float64 ? 1e-12 : 1e-5;
                for (int i = 0; i < conv.Length; i++)
                    Assert.True(Math.Abs(conv[i] - exact[i]) <= tolY * (1 + magnitudes[i]), $"{t}, {threads} thread(s), {groups} group(s), stride {stride}: y[{i}] = {conv[i]:R}, expected {exact[i]:R}");
                for (int oc = 0; oc < o; oc++)
                    for (int ic = 0; ic < cg; ic++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++)
                            {
                                double sum = 0, magnitude = 0;
                                int channel = oc / og * cg + ic;
                                for (int s = 0; s < n; s++)
                                    for (int a = 0; a < y; a++)
                                        for (int b = 0; b < y; b++)
                                        {
                                            int ih = a * stride + kh - pad, iw = b * stride + kw - pad;
                                            if (ih < 0 || ih >= h || iw < 0 || iw >= h) continue;
                                            double term = gd[((s * o + oc) * y + a) * y + b] * xd[((s * c + channel) * h + ih) * h + iw];
                                            sum += term;
                                            magnitude += Math.Abs(term);
                                        }
                                double got = w[((oc * cg + ic) * k + kh) * k + kw];
                                // float32: unit roundoff times the number of terms (at most 13,824) times their magnitudes
                                double tol = t == DType.Float64 ? 1e-12 : 1e-3;
                                Assert.True(Math.Abs(got - sum) <= tol * (1 + magnitude), $"{t}, {threads} thread(s), {groups} group(s), stride {stride}: w̄[{oc}, {ic}, {kh}, {kw}] = {got:R}, expected {sum:R}");
                            }
            }
        }
        finally { Gemm.MaxThreads = saved; }
    }
}
