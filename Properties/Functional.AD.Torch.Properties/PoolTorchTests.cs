using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Pooling against TorchSharp: <c>Np.MaxPool2d</c>/<c>Np.AvgPool2d</c> values against TorchSharp's <c>max_pool2d</c> and
/// <c>avg_pool2d</c> and gradients against its autograd, on random shapes, strides and padding, on the CPU backend and the
/// Torch backend (libtorch's pooling and backward kernels); ties on the Torch backend go to the first maximum in window
/// order as on the CPU; the composed lowering (integers, dilation, asymmetric padding, more axes) against the CPU.
/// </summary>
public class PoolTorchTests
{
    /// <summary>An NCHW shape and a square pool PyTorch accepts (padding at most half the window, each window in the padded input).</summary>
    sealed record Case(int[] Shape, int K, int S, int P)
    {
        public override string ToString() => $"shape [{string.Join(", ", Shape)}], kernel {K}, stride {S}, padding {P}";
    }

    static Gen<Case> Cases =>
        from k in Gen.Choose(1, 4)
        from s in Gen.Choose(1, 3)
        from p in Gen.Choose(0, k / 2)
        from n in Gen.Choose(1, 3)
        from c in Gen.Choose(1, 3)
        from h in Gen.Choose(Math.Max(1, k - 2 * p), 9)
        from w in Gen.Choose(Math.Max(1, k - 2 * p), 9)
        select new Case([n, c, h, w], k, s, p);

    static Tensor Distinct(int[] shape, int seed, DType dtype = DType.Float64)
    {
        var rng = new Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(i => 0.25 * i - 2.0).OrderBy(_ => rng.Next()).ToArray(), shape).AsType(dtype);
    }

    static Tensor Random(int[] shape, int seed)
    {
        var rng = new Random(seed);
        return new Tensor(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), shape);
    }

    [Fact]
    public void Pool_values_match_torchsharp_max_pool2d_and_avg_pool2d_on_both_backends()
    {
        var property = Prop.ForAll(Arb.From(Cases.SelectMany(c => Gen.Choose(0, 1 << 30).Select(seed => (c, seed)))), t =>
        {
            var (c, seed) = t;
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            {
                var x = Random(c.Shape, seed).AsType(dtype);
                int k = c.K, s = c.S, p = c.P;
                using var scope = torch.NewDisposeScope();
                var tx = x.ToTorch();
                var wantMax = TorchTensors.FromTorch(torch.nn.functional.max_pool2d(tx, [k, k], [s, s], [p, p]));
                var wantAvg = TorchTensors.FromTorch(torch.nn.functional.avg_pool2d(tx, [k, k], [s, s], [p, p]));
                Expression<Func<Tensor, Tensor>> max = v => Np.MaxPool2d(v, k, s, p);
                Expression<Func<Tensor, Tensor>> avg = v => Np.AvgPool2d(v, k, s, p);
                double tol = dtype == DType.Float64 ? 1e-12 : 1e-6;
                foreach (var (what, got) in new[] { ("max CPU", Np.MaxPool2d(x, k, s, p)), ("max Torch", max.JitTorch(TorchBackend.Cpu)(x).ToHost()) })
                    Assert.True(got.Shape.SequenceEqual(wantMax.Shape) && got.AllClose(wantMax, 0, 0), $"{what} {c} {dtype}: {got} vs {wantMax}");
                foreach (var (what, got) in new[] { ("avg CPU", Np.AvgPool2d(x, k, s, p)), ("avg Torch", avg.JitTorch(TorchBackend.Cpu)(x).ToHost()) })
                    Assert.True(got.Shape.SequenceEqual(wantAvg.Shape) && got.AllClose(wantAvg, tol, tol), $"{what} {c} {dtype}: {got} vs {wantAvg}");
            }
            return true;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void Pool_gradients_match_torchsharp_autograd_on_both_backends()
    {
        var property = Prop.ForAll(Arb.From(Cases.SelectMany(c => Gen.Choose(0, 1 << 30).Select(seed => (c, seed)))), t =>
        {
            var (c, seed) = t;
            int k = c.K, s = c.S, p = c.P;
            var x = Distinct(c.Shape, seed);
            var outShape = Np.MaxPool2d(x, k, s, p).Shape.ToArray();
            var w1 = Random(outShape, seed + 1);
            var w2 = Random(outShape, seed + 2);
            Expression<Func<Tensor, Tensor>> f = v => Np.Sum(Np.Tanh(Np.MaxPool2d(v, k, s, p)) * w1 + Np.Square(Np.AvgPool2d(v, k, s, p)) * w2, null, false);
            using var scope = torch.NewDisposeScope();
            var tx = x.ToTorch().requires_grad_(true);
            TT y = (torch.nn.functional.max_pool2d(tx, [k, k], [s, s], [p, p]).tanh() * w1.ToTorch()
                + torch.nn.functional.avg_pool2d(tx, [k, k], [s, s], [p, p]).square() * w2.ToTorch()).sum();
            y.backward();
            var want = TorchTensors.FromTorch(tx.grad!);
            var g = f.Grad();
            var cpu = g.Compile()(x);
            var onTorch = g.JitTorch(TorchBackend.Cpu)(x).ToHost();
            Assert.True(cpu.AllClose(want, 1e-10, 1e-12), $"{c}: CPU {cpu} vs TorchSharp autograd {want}");
            Assert.True(onTorch.AllClose(want, 1e-10, 1e-12), $"{c}: Torch backend {onTorch} vs TorchSharp autograd {want}");
            return true;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40).WithQuietOnSuccess(true), property);
    }

    /// <summary>The first maximum of each k x k window (stride s, padding p, row-major window order) of an NCHW tensor, counted per input: the oracle of the tie rule.</summary>
    static double[] FirstMaxCounts(double[] v, int[] shape, int k, int s, int p)
    {
        int n = shape[0] * shape[1], h = shape[2], w = shape[3];
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        var counts = new double[v.Length];
        for (int plane = 0; plane < n; plane++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int best = -1;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                        {
                            int y = i * s + a - p, x = j * s + b - p;
                            if (y < 0 || y >= h || x < 0 || x >= w) continue;
                            int at = (plane * h + y) * w + x;
                            if (best < 0 || v[at] > v[best]) best = at;
                        }
                    counts[best] += 1;
                }
        return counts;
    }

    [Fact]
    public void At_ties_the_torch_backend_sends_the_cotangent_to_the_first_maximum_in_window_order()
    {
        var property = Prop.ForAll(Arb.From(Cases.SelectMany(c => Gen.Choose(0, 1 << 30).Select(seed => (c, seed)))), t =>
        {
            var (c, seed) = t;
            int k = c.K, s = c.S, p = c.P;
            var rng = new Random(seed);
            var v = Enumerable.Range(0, c.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => (double)rng.Next(0, 3)).ToArray();
            var want = FirstMaxCounts(v, c.Shape, k, s, p);
            Expression<Func<Tensor, Tensor>> f = x => Np.Sum(Np.MaxPool2d(x, k, s, p), null, false);
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            {
                var x = new Tensor(v, c.Shape).AsType(dtype);
                var onTorch = f.Grad().JitTorch(TorchBackend.Cpu)(x).ToHost().ToDoubleArray();
                Assert.True(want.SequenceEqual(onTorch), $"{c} {dtype}: Torch backend {string.Join(" ", onTorch)} vs first maxima {string.Join(" ", want)}");
                // forward mode on Torch: the tangent gathered at the same maxima
                var dir = Random(c.Shape, seed + 5).AsType(dtype);
                var (_, tangent) = f.Jvp().JitTorch(TorchBackend.Cpu)(x, dir);
                double expected = want.Zip(dir.ToDoubleArray(), (a, b) => a * b).Sum(), got = (double)tangent.ToHost();
                Assert.True(Math.Abs(expected - got) <= (dtype == DType.Float64 ? 1e-12 : 1e-5) * Math.Max(1, Math.Abs(expected)), $"{c} {dtype}: tangent {got:R}, want {expected:R}");
            }
            return true;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60).WithQuietOnSuccess(true), property);
    }

    /// <summary>Windows that libtorch's pooling does not take (asymmetric or wide padding, dilated means, one or three
    /// pooled axes, SAME): the composed lowering on Torch against the CPU, values and gradients; integers exactly.</summary>
    [Theory]
    [InlineData(new[] { 2, 7 }, new[] { 1, 3 }, new[] { 1, 2 }, new[] { 0, 0, 2, 1 }, new[] { 1, 2 })]
    [InlineData(new[] { 5, 6 }, new[] { 3, 2 }, new[] { 2, 1 }, new[] { 1, 2, 0, 1 }, new[] { 1, 1 })]
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 1, 2, 2, 3 }, new[] { 1, 1, 2, 2 }, new[] { 0, 0, 1, 0, 0, 1, 1, 1 }, new[] { 1, 1, 1, 1 })]
    [InlineData(new[] { 1, 2, 6, 6 }, new[] { 1, 1, 3, 3 }, new[] { 1, 1, 1, 1 }, new[] { 0, 0, 0, 0, 2, 2, 2, 2 }, new[] { 1, 1, 2, 2 })]
    [InlineData(new[] { 9 }, new[] { 3 }, new[] { 2 }, new[] { 1, 1 }, new[] { 1 })]
    public void The_composed_lowering_matches_the_cpu(int[] shape, int[] window, int[] strides, int[] padding, int[] dilation)
    {
        var x = Distinct(shape, 3);
        var w = Random(Lax.ReduceWindowMax(x, window, strides, padding, dilation).Shape.ToArray(), 4);
        Expression<Func<Tensor, Tensor>> f = v => Np.Sum((Np.Sin(Lax.ReduceWindowMax(v, window, strides, padding, dilation)) + Lax.ReduceWindowSum(v * v, window, strides, padding, dilation)
            + Lax.ReduceWindowMean(Np.Tanh(v), window, strides, padding, dilation)) * w, null, false);
        Assert.True(f.JitTorch(TorchBackend.Cpu)(x).ToHost().AllClose(f.Compile()(x), 1e-12, 1e-12));
        var g = f.Grad();
        Assert.True(g.JitTorch(TorchBackend.Cpu)(x).ToHost().AllClose(g.Compile()(x), 1e-12, 1e-12));
        Expression<Func<Tensor, Tensor>> same = v => Lax.ReduceWindowMax(v, window, strides, "SAME", dilation) + Lax.ReduceWindowMean(v, window, strides, "SAME", dilation);
        Assert.True(same.JitTorch(TorchBackend.Cpu)(x).ToHost().AllClose(same.Compile()(x), 1e-12, 1e-12));
        // integers: the max and sum pools exactly, in int32
        var xi = (x * 4.0).AsType(DType.Int32);
        Expression<Func<Tensor, Tensor>> ints = v => Lax.ReduceWindowMax(v, window, strides, padding, dilation) + Lax.ReduceWindowSum(v, window, strides, padding, dilation);
        var onTorch = ints.JitTorch(TorchBackend.Cpu)(xi).ToHost();
        Assert.Equal(DType.Int32, onTorch.DType);
        Assert.Equal(ints.Compile()(xi).ToArray<int>(), onTorch.ToArray<int>());
    }

    /// <summary>Windows libtorch's pooling takes (one, two or three trailing axes, symmetric padding): the Torch backend
    /// (max_pool2d/3d, avg_pool2d/3d and their backward kernels) against the CPU and against TorchSharp's own pools.</summary>
    [Theory]
    [InlineData(new[] { 2, 3, 5, 6, 4 }, new[] { 1, 1, 3, 2, 2 }, new[] { 1, 1, 2, 1, 2 }, new[] { 0, 0, 0, 0, 1, 1, 0, 0, 1, 1 })]
    [InlineData(new[] { 2, 5, 6, 7 }, new[] { 2, 3, 3, 1 }, new[] { 1, 2, 1, 1 }, new[] { 1, 1, 1, 1, 0, 0, 0, 0 })]
    [InlineData(new[] { 3, 8 }, new[] { 1, 3 }, new[] { 1, 2 }, new[] { 0, 0, 1, 1 })]
    [InlineData(new[] { 7 }, new[] { 2 }, new[] { 1 }, new[] { 1, 1 })]
    public void Libtorch_pooling_kernels_match_the_cpu_on_one_two_and_three_pooled_axes(int[] shape, int[] window, int[] strides, int[] padding)
    {
        var x = Distinct(shape, 8);
        var w = Random(Lax.ReduceWindowMax(x, window, strides, padding).Shape.ToArray(), 9);
        Expression<Func<Tensor, Tensor>> f = v => Np.Sum((Np.Sin(Lax.ReduceWindowMax(v, window, strides, padding)) + Lax.ReduceWindowSum(v * v, window, strides, padding)
            + Np.Square(Lax.ReduceWindowMean(v, window, strides, padding))) * w, null, false);
        Assert.True(f.JitTorch(TorchBackend.Cpu)(x).ToHost().AllClose(f.Compile()(x), 1e-12, 1e-12));
        var g = f.Grad();
        Assert.True(g.JitTorch(TorchBackend.Cpu)(x).ToHost().AllClose(g.Compile()(x), 1e-12, 1e-12));
        if (shape.Length == 5)
        {
            using var scope = torch.NewDisposeScope();
            long[] k = [.. window[2..].Select(v => (long)v)], s = [.. strides[2..].Select(v => (long)v)], p = [padding[4], padding[6], padding[8]];
            var want = TorchTensors.FromTorch(torch.nn.functional.max_pool3d(x.ToTorch(), k, s, p));
            Assert.True(Lax.ReduceWindowMax(x, window, strides, padding).AllClose(want, 0, 0));
            var wantAvg = TorchTensors.FromTorch(torch.nn.functional.avg_pool3d(x.ToTorch(), k, s, p));
            Assert.True(Lax.ReduceWindowMean(x, window, strides, padding).AllClose(wantAvg, 1e-12, 1e-12));
        }
    }

    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void Half_precision_pools_and_their_gradients_agree_between_the_cpu_and_torch(DType dtype)
    {
        // the CPU computes halves in float32 and rounds once; libtorch pools them natively (the composed lowering)
        var x = Distinct([2, 3, 6, 5], 12).AsType(dtype);
        Expression<Func<Tensor, Tensor>> f = v => Np.Sum(Np.MaxPool2d(v, 3, 2, 1) + Np.AvgPool2d(v, 3, 2, 1), null, false);
        var cpu = f.Compile()(x);
        var onTorch = f.JitTorch(TorchBackend.Cpu)(x).ToHost();
        Assert.Equal(dtype, onTorch.DType);
        double tol = dtype == DType.Float16 ? 1.0 / 256 : 1.0 / 32;
        Assert.True(onTorch.AsType(DType.Float64).AllClose(cpu.AsType(DType.Float64), tol, tol), $"{onTorch} vs {cpu}");
        var g = f.Grad();
        var gCpu = g.Compile()(x);
        var gTorch = g.JitTorch(TorchBackend.Cpu)(x).ToHost();
        Assert.Equal(dtype, gCpu.DType);
        Assert.Equal(dtype, gTorch.DType);
        Assert.True(gTorch.AsType(DType.Float64).AllClose(gCpu.AsType(DType.Float64), tol, tol), $"{gTorch} vs {gCpu}");
    }

    [Fact]
    public void Vmap_of_the_gradient_on_torch_matches_the_cpu_per_example()
    {
        Expression<Func<Tensor, Tensor, Tensor>> loss = (x, w) => Np.Sum(Np.Relu(Np.MaxPool2d(x * w, 2)), null, false) + Np.Sum(Np.Square(Np.AvgPool2d(x, 3, 1, 1)), null, false) * 0.5;
        var g = loss.Grad().Vmap([0, null]);
        var xs = Distinct([4, 1, 2, 6, 6], 9);
        var w = Random([1, 2, 6, 6], 10);
        var want = g.Compile()(xs, w);
        Assert.True(g.JitTorch(TorchBackend.Cpu)(xs, w).ToHost().AllClose(want, 1e-12, 1e-12));
        var loop = Np.Stack(Enumerable.Range(0, 4).Select(i => loss.Grad().Compile()(Np.Reshape(Np.Take(xs, new Tensor(new[] { (double)i }), 0), new[] { 1, 2, 6, 6 }), w)).ToArray(), 0);
        Assert.True(want.AllClose(loop, 1e-12, 1e-12));
    }
}
