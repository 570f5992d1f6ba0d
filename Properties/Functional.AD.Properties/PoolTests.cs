using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// Pooling (<c>Lax.ReduceWindow</c>, <c>Np.MaxPool2d</c>, <c>Np.AvgPool2d</c>, ...) on the CPU: values against a naive
/// loop written here, the gradient's tie rule (the first maximum in row-major window order takes the whole cotangent),
/// gradients against central differences in float64 and forward against reverse, Vmap against a loop, the jit against
/// plain <c>Compile()</c>, integers exactly, and bad shapes as <see cref="ShapeException"/>s naming the subexpression.
/// The generic spec properties (Specs.cs: JVP, dot test, second order, Vmap, Jit, printing) cover the primitives too.
/// </summary>
public class PoolTests
{
    /// <summary>A random pooling configuration: shape, window, strides, explicit (low, high) padding, dilation.</summary>
    internal sealed record Pool(int[] Shape, int[] Window, int[] Strides, int[] Padding, int[] Dilation)
    {
        public override string ToString() => $"shape {Str(Shape)}, window {Str(Window)}, strides {Str(Strides)}, padding {Str(Padding)}, dilation {Str(Dilation)}";
        static string Str(int[] a) => "[" + string.Join(", ", a) + "]";
    }

    /// <summary>Rank 1 to 3, sizes 1 to 6, windows up to 3, strides up to 3, padding below the dilated window, dilation up to 2; every window fits.</summary>
    internal static Gen<Pool> Pools =>
        from rank in Gen.Choose(1, 3)
        from axes in Gen.CollectToArray(Enumerable.Range(0, rank).Select(_ =>
            from w in Gen.Choose(1, 3)
            from d in Gen.Choose(1, 2)
            from s in Gen.Choose(1, 3)
            from lo in Gen.Choose(0, (w - 1) * d)
            from hi in Gen.Choose(0, (w - 1) * d)
            from n in Gen.Choose(Math.Max(1, (w - 1) * d + 1 - lo - hi), 6)
            select (n, w, s, lo, hi, d)))
        select new Pool(axes.Select(a => a.n).ToArray(), axes.Select(a => a.w).ToArray(), axes.Select(a => a.s).ToArray(),
            axes.SelectMany(a => new[] { a.lo, a.hi }).ToArray(), axes.Select(a => a.d).ToArray());

    // ------------------------------------------------------------------ the naive oracle

    /// <summary>
    /// reduce_window by the definition, one output at a time: out[o] reduces x at i = o * s + w * d - lo over the window
    /// taps w (row-major), a tap outside x counting as the padding value. Also the flat index of the first maximum (-1 when
    /// a padding tap wins), and the taps' flat indices per output.
    /// </summary>
    internal static (double[] Max, double[] Sum, double[] Mean, int[] Argmax, int[] OutDims) Naive(double[] x, Pool c)
    {
        int r = c.Shape.Length;
        var od = new int[r];
        for (int a = 0; a < r; a++) od[a] = (c.Shape[a] + c.Padding[2 * a] + c.Padding[2 * a + 1] - ((c.Window[a] - 1) * c.Dilation[a] + 1)) / c.Strides[a] + 1;
        int outN = od.Aggregate(1, (p, q) => p * q), taps = c.Window.Aggregate(1, (p, q) => p * q);
        var max = new double[outN]; var sum = new double[outN]; var mean = new double[outN]; var arg = new int[outN];
        for (int o = 0; o < outN; o++)
        {
            var oi = Unflat(o, od);
            double best = double.NegativeInfinity, acc = 0;
            int bestAt = -1;
            bool first = true;
            for (int w = 0; w < taps; w++)
            {
                var wi = Unflat(w, c.Window);
                int flat = 0;
                bool inside = true;
                for (int a = 0; a < r; a++)
                {
                    int i = oi[a] * c.Strides[a] + wi[a] * c.Dilation[a] - c.Padding[2 * a];
                    if (i < 0 || i >= c.Shape[a]) inside = false;
                    flat = flat * c.Shape[a] + i;
                }
                double v = inside ? x[flat] : double.NegativeInfinity;
                if (inside) acc += x[flat];
                if (first || v > best) { best = v; bestAt = inside ? flat : -1; first = false; }
            }
            max[o] = best; sum[o] = acc; mean[o] = acc / taps; arg[o] = bestAt;
        }
        return (max, sum, mean, arg, od);
    }

    static int[] Unflat(int i, int[] dims)
    {
        var r = new int[dims.Length];
        for (int a = dims.Length - 1; a >= 0; a--) { r[a] = i % dims[a]; i /= dims[a]; }
        return r;
    }

    static Tensor Random(int[] shape, int seed, DType dtype = DType.Float64)
    {
        var rng = new Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 4 - 2).ToArray(), shape).AsType(dtype);
    }

    /// <summary>Distinct values (a shuffled ramp), so no window has a tie and the max pool is differentiable at x.</summary>
    internal static Tensor Distinct(int[] shape, int seed, DType dtype = DType.Float64)
    {
        var rng = new Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        var v = Enumerable.Range(0, n).Select(i => 0.25 * i - 1.5).OrderBy(_ => rng.Next()).ToArray();
        return new Tensor(v, shape).AsType(dtype);
    }

    static void Close(double[] want, double[] got, double tol, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(want[i] == got[i] || Math.Abs(want[i] - got[i]) <= tol * Math.Max(1, Math.Abs(want[i])), $"{what}: element {i}: {got[i]:R}, want {want[i]:R}");
    }

    // ------------------------------------------------------------------ values

    [Fact]
    public void Max_sum_and_mean_pools_match_the_naive_loop_on_random_windows_in_float64_and_float32()
    {
        var property = Prop.ForAll(Arb.From(Pools.SelectMany(c => Gen.Choose(0, 1 << 30).Select(seed => (c, seed)))), t =>
        {
            var (c, seed) = t;
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            {
                var x = Random(c.Shape, seed, dtype);
                var (max, sum, mean, _, od) = Naive(x.ToDoubleArray(), c);
                // float32 sums round once per tap (the oracle sums in float64): the tolerance grows with the window
                double tol = dtype == DType.Float64 ? 1e-12 : 1e-6 * c.Window.Aggregate(1, (a, b) => a * b);
                var gotMax = Lax.ReduceWindowMax(x, c.Window, c.Strides, c.Padding, c.Dilation);
                Assert.Equal(od, gotMax.Shape.ToArray());
                Assert.Equal(dtype, gotMax.DType);
                Close(max, gotMax.ToDoubleArray(), 0, $"max {c} {dtype}");
                Close(sum, Lax.ReduceWindowSum(x, c.Window, c.Strides, c.Padding, c.Dilation).ToDoubleArray(), tol, $"sum {c} {dtype}");
                Close(mean, Lax.ReduceWindow(x, WindowReduction.Mean, c.Window, c.Strides, c.Padding, c.Dilation).ToDoubleArray(), tol, $"mean {c} {dtype}");
            }
            return true;
        });
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(200).WithQuietOnSuccess(true), property);
    }

    [Theory]
    [InlineData(7, 3, 1)]
    [InlineData(8, 3, 2)]
    [InlineData(5, 2, 3)]
    [InlineData(4, 4, 1)]
    public void Same_padding_gives_ceil_n_over_stride_positions_split_as_jax_splits_it(int n, int window, int stride)
    {
        var x = Random([2, n], 3);
        var got = Lax.ReduceWindowSum(x, new[] { 1, window }, new[] { 1, stride }, "SAME");
        int outN = (n + stride - 1) / stride;
        Assert.Equal(new[] { 2, outN }, got.Shape.ToArray());
        // JAX (lax.padtype_to_pads): total = max((out - 1) * stride + window - n, 0), low = total / 2, high = total - low
        int total = Math.Max((outN - 1) * stride + window - n, 0);
        var want = Lax.ReduceWindowSum(x, new[] { 1, window }, new[] { 1, stride }, new[] { 0, 0, total / 2, total - total / 2 });
        Assert.Equal(want.ToDoubleArray(), got.ToDoubleArray());
        Assert.Equal(Lax.ReduceWindowSum(x, new[] { 1, window }, new[] { 1, stride }, new[] { 0, 0, 0, 0 }).ToDoubleArray(),
            Lax.ReduceWindowSum(x, new[] { 1, window }, new[] { 1, stride }, "VALID").ToDoubleArray());
    }

    [Fact]
    public void The_pytorch_spellings_are_reduce_windows_over_the_spatial_axes_and_the_mean_divides_by_the_whole_window()
    {
        var x = Random([2, 3, 7, 6], 11);
        Assert.Equal(Lax.ReduceWindowMax(x, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 2, 2 }, new[] { 0, 0, 0, 0, 1, 1, 1, 1 }).ToDoubleArray(), Np.MaxPool2d(x, 3, 2, 1).ToDoubleArray());
        Assert.Equal(Lax.ReduceWindowMax(x, new[] { 1, 1, 2, 2 }, new[] { 1, 1, 2, 2 }, "VALID").ToDoubleArray(), Np.MaxPool2d(x, 2).ToDoubleArray());
        Assert.Equal(new[] { 2, 3, 3, 3 }, Np.MaxPool2d(x, 2).Shape.ToArray());
        Assert.Equal(Lax.ReduceWindowMax(x, new[] { 1, 1, 2, 3 }, new[] { 1, 1, 1, 2 }, new[] { 0, 0, 0, 0, 1, 1, 0, 0 }).ToDoubleArray(),
            Np.MaxPool2d(x, new[] { 2, 3 }, new[] { 1, 2 }, new[] { 1, 0 }).ToDoubleArray());
        // count_include_pad=True: a corner window of a 3x3 pool with padding 1 holds 4 real elements but divides by 9
        var ones = Np.Ones([1, 1, 3, 3], DType.Float64);
        var avg = Np.AvgPool2d(ones, 3, 1, 1).ToDoubleArray();
        Assert.Equal(4.0 / 9, avg[0], 15);
        Assert.Equal(1.0, avg[4], 15);
        var x1 = Random([2, 3, 9], 5);
        Assert.Equal(Lax.ReduceWindowMean(x1, new[] { 1, 1, 3 }, new[] { 1, 1, 2 }, new[] { 0, 0, 0, 0, 1, 1 }).ToDoubleArray(), Np.AvgPool1d(x1, 3, 2, 1).ToDoubleArray());
        Assert.Equal(Lax.ReduceWindowMax(x1, new[] { 1, 1, 2 }, new[] { 1, 1, 2 }, "VALID").ToDoubleArray(), Np.MaxPool1d(x1, 2).ToDoubleArray());
    }

    [Fact]
    public void Int32_max_and_sum_pools_are_exact_and_keep_the_dtype()
    {
        var rng = new Random(4);
        var v = Enumerable.Range(0, 2 * 3 * 5 * 4).Select(_ => (double)rng.Next(-1_000_000_000, 1_000_000_000)).ToArray();
        var x = new Tensor(v, [2, 3, 5, 4]).AsType(DType.Int32);
        var c = new Pool([2, 3, 5, 4], [1, 1, 3, 2], [1, 1, 2, 1], [0, 0, 0, 0, 1, 1, 0, 1], [1, 1, 1, 1]);
        var (max, _, _, _, _) = Naive(v, c);
        var got = Lax.ReduceWindowMax(x, c.Window, c.Strides, c.Padding);
        Assert.Equal(DType.Int32, got.DType);
        Assert.Equal(max.Select(m => (int)m).ToArray(), got.ToArray<int>());
        var small = Np.Full([1, 1, 4, 4], 7, DType.Int32);
        var sum = Lax.ReduceWindowSum(small, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 1, 1 }, "SAME");
        Assert.Equal(DType.Int32, sum.DType);
        Assert.Equal(new[] { 28, 42, 42, 28, 42, 63, 63, 42, 42, 63, 63, 42, 28, 42, 42, 28 }, sum.ToArray<int>());
        // jitted, the same
        Expression<Func<Tensor, Tensor>> f = t => Np.MaxPool2d(t, 3, 2, 1);
        Assert.Equal(Np.MaxPool2d(x, 3, 2, 1).ToArray<int>(), f.Jit()(x).ToArray<int>());
    }

    [Fact]
    public void A_nan_in_a_window_makes_its_max_nan_and_takes_its_cotangent_on_both_kernel_paths()
    {
        // [1, 1, 4, 4] pooled over the last two axes runs the plane loops; [2, 4, 4] with a window over every axis the general walk
        foreach (var (shape, window) in new[] { (new[] { 1, 1, 4, 4 }, new[] { 1, 1, 2, 2 }), (new[] { 2, 4, 4 }, new[] { 2, 2, 2 }) })
        {
            var v = Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(i => (double)(i % 5)).ToArray();
            v[4] = double.NaN;   // (row 1, column 0) and (row 1, column 1): both in the first window
            v[5] = double.NaN;
            var x = new Tensor(v, shape);
            var max = Lax.ReduceWindowMax(x, window, window, "VALID").ToDoubleArray();
            Assert.True(double.IsNaN(max[0]), "the window holding the NaNs");
            Assert.Equal(1, max.Count(double.IsNaN));
            var ct = Lax.SelectAndScatterAdd(Np.Ones([.. Lax.ReduceWindowMax(x, window, window, "VALID").Shape], DType.Float64), x, window, window, "VALID", window.Select(_ => 1).ToArray()).ToDoubleArray();
            Assert.Equal(1.0, ct[4]);   // the first NaN in window order, not the second
            Assert.Equal(0.0, ct[5]);
        }
    }

    // ------------------------------------------------------------------ derivatives

    /// <summary>How many times each input is the first maximum of a window (the gradient of Sum(max pool) by the oracle).</summary>
    static double[] FirstMaxCounts(double[] x, Pool c)
    {
        var counts = new double[x.Length];
        foreach (int i in Naive(x, c).Argmax) if (i >= 0) counts[i] += 1;
        return counts;
    }

    /// <summary>
    /// Float32 planes for the 2x2 pool's vector path (four windows of a row at a time, 8x8 images included): values from {0, 1, 2} (ties in
    /// most windows) with NaNs sprinkled in. Each window's value and cotangent against a loop written here: the first NaN
    /// in window order if the window holds one, else the first maximum.
    /// </summary>
    [Fact]
    public void Wide_float32_rows_of_2x2_windows_pick_the_first_maximum_or_the_first_nan()
    {
        var property = Prop.ForAll(Arb.From(Gen.Choose(0, 1 << 30)), seed =>
        {
            var rng = new Random(seed);
            int n = rng.Next(1, 3), c = rng.Next(1, 3), h = rng.Next(2, 10), w = rng.Next(2) == 0 ? rng.Next(8, 12) : rng.Next(16, 41);
            var v = Enumerable.Range(0, n * c * h * w).Select(_ => rng.Next(25) == 0 ? double.NaN : rng.Next(0, 3)).ToArray();
            var x = new Tensor(v, [n, c, h, w]).AsType(DType.Float32);
            int oh = h / 2, ow = w / 2;
            var wantMax = new List<double>();
            var wantCt = new double[v.Length];
            for (int p = 0; p < n * c; p++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        int t0 = p * h * w + 2 * i * w + 2 * j;
                        int[] taps = [t0, t0 + 1, t0 + w, t0 + w + 1];
                        int best = Array.Find(taps, t => double.IsNaN(v[t]));
                        if (!taps.Any(t => double.IsNaN(v[t])))
                        {
                            best = taps[0];
                            foreach (var t in taps) if (v[t] > v[best]) best = t;
                        }
                        wantMax.Add(v[best]);
                        wantCt[best] += 1;
                    }
            Assert.Equal(wantMax, Np.MaxPool2d(x, 2).ToDoubleArray());
            Expression<Func<Tensor, Tensor>> f = t => Np.Sum(Np.MaxPool2d(t, 2), null, false);
            var g = f.Grad();
            Assert.Equal(wantCt, g.Compile()(x).ToDoubleArray());
            Assert.Equal(wantCt, g.Jit()(x).ToDoubleArray());
            return true;
        });
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(60).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void At_ties_the_whole_cotangent_goes_to_the_first_maximum_in_window_order_eagerly_jitted_and_vmapped()
    {
        // values from {0, 1, 2}: most windows have ties; overlapping windows (stride 1 or 2 under window 3) and padding
        var property = Prop.ForAll(Arb.From(Gen.Choose(0, 1 << 30)), seed =>
        {
            var rng = new Random(seed);
            int[] shape = [2, 2, rng.Next(3, 7), rng.Next(3, 7)];
            int k = rng.Next(2, 4), s = rng.Next(1, 3), p = rng.Next(0, k / 2 + 1);
            var v = Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (double)rng.Next(0, 3)).ToArray();
            var x = new Tensor(v, shape);
            var c = new Pool(shape, [1, 1, k, k], [1, 1, s, s], [0, 0, 0, 0, p, p, p, p], [1, 1, 1, 1]);
            var want = FirstMaxCounts(v, c);
            Expression<Func<Tensor, Tensor>> f = t => Np.Sum(Np.MaxPool2d(t, k, s, p), null, false);
            var g = f.Grad();
            Assert.Equal(want, g.Compile()(x).ToDoubleArray());
            Assert.Equal(want, g.Jit()(x).ToDoubleArray());
            // forward mode: the tangent of the sum is the sum of the tangents at the first maxima
            var dir = Random(shape, seed + 1);
            var (_, tangent) = f.Jvp().Compile()(x, dir);
            double expected = want.Zip(dir.ToDoubleArray(), (a, b) => a * b).Sum();
            Assert.True(Math.Abs(expected - (double)tangent) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"tangent {(double)tangent:R}, want {expected:R}");
            // per example under Vmap: each example's own first maxima
            var gv = g.Vmap([0]).Jit()(Np.Stack([x, Np.Neg(x)], 0));
            Assert.Equal(want, gv.ToDoubleArray()[..v.Length]);
            Assert.Equal(FirstMaxCounts(v.Select(a => -a).ToArray(), c), gv.ToDoubleArray()[v.Length..]);
            return true;
        });
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(40).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void A_constant_input_sends_each_window_cotangent_to_its_first_real_element()
    {
        // every element equal: the first tap of each window inside x wins (a padding tap is -inf, never a maximum)
        var x = Np.Full([1, 1, 4, 4], 1.5, DType.Float64);
        Expression<Func<Tensor, Tensor>> f = t => Np.Sum(Np.MaxPool2d(t, 3, 1, 1), null, false);
        var g = f.Grad().Compile()(x).ToDoubleArray();
        // windows centred on (i, j) start at (i - 1, j - 1): their first real element is (max(i - 1, 0), max(j - 1, 0))
        var want = new double[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                want[Math.Max(i - 1, 0) * 4 + Math.Max(j - 1, 0)] += 1;
        Assert.Equal(want, g);
    }

    [Fact]
    public void Gradients_match_central_differences_in_float64_away_from_ties()
    {
        var property = Prop.ForAll(Arb.From(Pools.SelectMany(c => Gen.Choose(0, 1 << 30).Select(seed => (c, seed)))), t =>
        {
            var (c, seed) = t;
            var x = Distinct(c.Shape, seed);
            var w = Random(Naive(x.ToDoubleArray(), c).OutDims, seed + 7);
            var (win, st, pad, dil) = (c.Window, c.Strides, c.Padding, c.Dilation);
            Expression<Func<Tensor, Tensor>> max = v => Np.Sum(Lax.ReduceWindowMax(v, win, st, pad, dil) * w, null, false);
            // bounded outer functions: central differences of a large sum lose digits to rounding
            Expression<Func<Tensor, Tensor>> sum = v => Np.Sum(Np.Sin(Lax.ReduceWindowSum(v, win, st, pad, dil)) * w, null, false);
            Expression<Func<Tensor, Tensor>> mean = v => Np.Sum(Np.Tanh(Lax.ReduceWindowMean(v, win, st, pad, dil)) * w, null, false);
            // a window whose taps all fall in the padding is -inf (as in JAX): its differences are NaN, so the max is
            // checked where every window holds an element of x
            bool real = Naive(x.ToDoubleArray(), c).Argmax.All(i => i >= 0);
            foreach (var f in real ? new[] { max, sum, mean } : new[] { sum, mean })
                GradCheck.Check(f, x, 1e-5, 1e-6).Assert();
            return true;
        });
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(60).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void Second_derivatives_match_differences_of_the_gradient()
    {
        // Hessian-vector products (forward over reverse) against central differences of the reverse gradient
        var x = Distinct([2, 2, 5, 5], 3);
        var v = Random([2, 2, 5, 5], 4);
        var w = Random([2, 2, 3, 3], 5);
        Expression<Func<Tensor, Tensor>> f = t => Np.Sum(Np.Square(Np.MaxPool2d(t, 3, 2, 1)) * w + Np.Tanh(Np.AvgPool2d(t * t, 3, 2, 1)), null, false);
        var g = f.Grad();
        var gc = g.Compile();
        var (_, hv) = g.Jvp().Compile()(x, v);
        double h = 1e-5;
        var fd = (gc(Np.Add(x, Np.Mul(v, new Tensor(h)))) - gc(Np.Sub(x, Np.Mul(v, new Tensor(h))))) / (2 * h);
        Assert.True(hv.AllClose(fd, 1e-6, 1e-7), $"Hv {hv} vs differences {fd}");
        // and reverse over reverse: the gradient of <grad f, v> is H v (H is symmetric)
        Expression<Func<Tensor, Tensor>> gv = t => Np.Sum(g.Invoke(t) * v, null, false);
        Assert.True(gv.Grad().Jit()(x).AllClose(fd, 1e-6, 1e-7));
    }

    [Fact]
    public void Vmap_of_the_pools_and_their_gradients_matches_a_loop_and_the_jit_matches_plain_compile()
    {
        var property = Prop.ForAll(Arb.From(Pools.SelectMany(c => Gen.Choose(0, 1 << 30).Select(seed => (c, seed)))), t =>
        {
            var (c, seed) = t;
            var (win, st, pad, dil) = (c.Window, c.Strides, c.Padding, c.Dilation);
            Expression<Func<Tensor, Tensor>> f = v => Np.Sum(Np.Sin(Lax.ReduceWindowMax(v, win, st, pad, dil)) + Lax.ReduceWindowMean(v * v, win, st, pad, dil), null, false);
            var g = f.Grad();
            var xs = Enumerable.Range(0, 3).Select(i => Distinct(c.Shape, seed + i)).ToArray();
            int axis = new Random(seed).Next(0, c.Shape.Length + 1);
            var batch = Np.Stack(xs, axis);
            var loopF = Np.Stack(xs.Select(x => f.Compile()(x)).ToArray(), 0);
            var loopG = Np.Stack(xs.Select(x => g.Compile()(x)).ToArray(), 0);
            Assert.True(f.Vmap([axis]).Compile()(batch).AllClose(loopF, 1e-12, 1e-12));
            Assert.True(g.Vmap([axis]).Jit()(batch).AllClose(loopG, 1e-12, 1e-12));
            Assert.True(g.Jit()(xs[0]).AllClose(g.Compile()(xs[0]), 1e-12, 1e-12));
            return true;
        });
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(40).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void The_gradient_of_a_small_cnn_block_reads_and_prints_the_derivative_primitives()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(Np.Relu(Np.MaxPool2d(x, 2)) + Np.AvgPool2d(x, 2), null, false);
        var text = Ad.Show(f.Grad());
        Assert.Contains("Lax.SelectAndScatterAdd(", text);
        Assert.Contains("Lax.ReduceWindowSumTranspose(", text);
        Assert.Contains("Lax.ReduceWindowMax(", text);
    }

    // ------------------------------------------------------------------ bad input

    [Fact]
    public void A_window_larger_than_the_padded_input_is_a_shape_error_naming_the_subexpression_and_shapes()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(Np.MaxPool2d(x, 3), null, false) * 2.0;
        var x = Np.Ones([1, 2, 2, 5]);
        var e = Assert.Throws<ShapeException>(() => f.Jit()(x));
        Assert.Contains("in `MaxPool2d(x, 3)`", e.Message);
        Assert.Contains("float32[1,2,2,5]", e.Message);
        Assert.Contains("along axis 2 the window spans 3 elements", e.Message);
        var eager = Assert.Throws<ShapeException>(() => Np.MaxPool2d(x, 3));
        Assert.Contains("Np.MaxPool2d(x: float32[1,2,2,5])", eager.Message);
        Assert.Contains("each window must fit in the padded input", eager.Message);
    }

    [Fact]
    public void A_wrong_rank_is_a_shape_error_saying_which_rank_the_window_takes()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.AvgPool2d(x, 2) + 1.0;
        var e = Assert.Throws<ShapeException>(() => f.Jit()(Np.Ones([3, 8, 8])));
        Assert.Contains("in `AvgPool2d(x, 2)`", e.Message);
        Assert.Contains("float32[3,8,8]", e.Message);
        Assert.Contains("rank 3", e.Message);
        Assert.Contains("NCHW", e.Message);
        var e2 = Assert.Throws<ShapeException>(() => Lax.ReduceWindowSum(Np.Ones([4]), new[] { 2, 2 }, new[] { 1, 1 }, "VALID"));
        Assert.Contains("the window spans 2 axes", e2.Message);
    }

    [Fact]
    public void Bad_static_arguments_and_dtypes_are_refused_with_what_would_be_accepted()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Np.MaxPool2d(Np.Ones([1, 1, 4, 4]), 2, 2, 2));
        var pad = Assert.Throws<ArgumentException>(() => Lax.ReduceWindowMax(Np.Ones([4]), new[] { 2 }, new[] { 1 }, "FULL"));
        Assert.Contains("\"SAME\" or \"VALID\"", pad.Message);
        var pairs = Assert.Throws<ArgumentException>(() => Lax.ReduceWindowMax(Np.Ones([4]), new[] { 2 }, new[] { 1 }, new[] { 1 }));
        Assert.Contains("(low, high) pair per axis", pairs.Message);
        var mean = Assert.Throws<ShapeException>(() => Np.AvgPool2d(Np.Ones([1, 1, 4, 4], DType.Int32), 2));
        Assert.Contains("float tensors, not int32", mean.Message);
        var b = Assert.Throws<ShapeException>(() => Np.MaxPool2d(Np.Ones([1, 1, 4, 4], DType.Bool), 2));
        Assert.Contains("bool", b.Message);
    }
}
