using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The product and cumulative vocabulary on the Torch backend: values and gradients (of a weighted sum) equal the CPU
/// backend's, and libtorch's own prod, cumsum, cumprod, cummax and logcumsumexp with their autograd, in float64; inputs
/// with zeros for the products (one in a line, two in another) and distinct values for the running maximum (libtorch
/// gives a tie's cotangent to the last position, JAX and this library to the first). Integers are exact on both backends.
/// </summary>
public class CumulativeVocabularyTorchTests
{
    static readonly (string Name, Expression<Func<Tensor, Tensor>> F, Func<torch.Tensor, torch.Tensor> Torch)[] Cases =
    [
        ("Prod(axis: 1)", x => Prod(x, 1, false), t => t.prod(1)),
        ("Prod", x => Prod(x, null, false), t => t.prod()),
        ("Prod(axes)", x => Prod(x, Axes.Of(0, 1), true), t => t.prod(0, true).prod(1, true)),
        ("Cumsum", x => Cumsum(x, 1, false), t => t.cumsum(1)),
        ("Cumsum(reverse)", x => Cumsum(x, 0, true), t => t.flip(0).cumsum(0).flip(0)),
        ("Cumprod", x => Cumprod(x, -1, false), t => t.cumprod(1)),
        ("Cumprod(reverse)", x => Cumprod(x, 1, true), t => t.flip(1).cumprod(1).flip(1)),
        ("Cummax", x => Cummax(x, 1, false), t => torch.cummax(t, 1).values),
        ("Cummax(reverse)", x => Cummax(x, 0, true), t => torch.cummax(t.flip(0), 0).values.flip(0)),
        ("CumLogSumExp", x => CumLogSumExp(x, 1, false), t => t.logcumsumexp(1)),
        ("CumLogSumExp(reverse)", x => CumLogSumExp(x, -1, true), t => t.flip(1).logcumsumexp(1).flip(1)),
        ("Cumsum(axis: null)", x => Cumsum(x, null, false), t => t.flatten().cumsum(0)),
        ("Cumprod(axis: null, reverse)", x => Cumprod(x, null, true), t => t.flatten().flip(0).cumprod(0).flip(0)),
        ("Cummax(axis: null)", x => Cummax(x, null, false), t => torch.cummax(t.flatten(), 0).values),
        ("CumLogSumExp(axis: null)", x => CumLogSumExp(x, null, false), t => t.flatten().logcumsumexp(0)),
        ("Diag(matrix, k: 1)", x => Diag(x, 1), t => t.diag(1)),
        ("Diag(matrix, k: -2)", x => Diag(x, -2), t => t.diag(-2)),
        ("Diag(vector, k: -1)", x => Diag(Sum(x, 0, false), -1), t => t.sum([0L]).diag(-1)),
        ("Split(indices)[1]", x => Split(x, new[] { 1, 3 }, 1)[1], t => t.narrow(1, 1, 2)),
        ("Split(sections)[3]", x => Split(x, 5, -1)[3], t => t.narrow(1, 3, 1)),
        ("ArraySplit(3)[0]", x => ArraySplit(x, 3, 1)[0], t => t.narrow(1, 0, 2)),
        ("ArraySplit(3)[2]", x => ArraySplit(x, 3, -1)[2], t => t.narrow(1, 4, 1)),
        ("ArraySplit(4, axis 0)[3]", x => ArraySplit(x, 4, 0)[3], t => t.narrow(0, 3, 0)),
        ("Meshgrid(xy)[0]", x => Meshgrid(Sum(x, 0, false), Sum(x, 1, false), "xy")[0], t => t.sum([0L]).unsqueeze(0).expand(3, 5)),
        ("Meshgrid(ij)[1]", x => Meshgrid(Sum(x, 0, false), Sum(x, 1, false), "ij")[1], t => t.sum([1L]).unsqueeze(0).expand(5, 3)),
    ];

    /// <summary>A libtorch tensor's elements (TorchSharp's accessor cannot read an empty one).</summary>
    static double[] Data(torch.Tensor t) => t.numel() == 0 ? [] : t.contiguous().data<double>().ToArray();

    public static IEnumerable<object[]> Names => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Values_and_gradients_on_torch_equal_the_cpu_backend_and_libtorchs_own_op_and_autograd(string name)
    {
        var (_, f, op) = Cases.Single(c => c.Name == name);
        // distinct values; for the products, row 0 has one zero and row 1 two
        var xs = new[] { 0.9, -1.3, 0.0, 1.7, 0.6, 0.0, 1.1, 0.0, -0.8, 1.4, 1.2, -0.7, 0.5, 1.6, -1.1 };
        if (name.StartsWith("Cummax")) xs = xs.Select((v, i) => v + 0.0137 * i).ToArray();
        var x = new Tensor(xs, [3, 5]);
        var y = f.Compile()(x);
        var wy = new Tensor(Enumerable.Range(0, y.Size).Select(i => Math.Sin(i + 1.0)).ToArray(), y.Shape.ToArray());
        Expression<Func<Tensor, Tensor, Tensor>> loss = (v, ww) => Sum(f.Invoke(v) * ww, null, false);
        var grad = loss.Grad();
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var xt = x.AsType(dt);
            var onTorch = TorchJit.Jit(f, TorchBackend.Cpu)(xt).ToHost();
            Assert.Equal(dt, onTorch.DType);
            double tol = dt == DType.Float64 ? 1e-12 : 1e-5;
            Assert.Equal(f.Compile()(xt).ToDoubleArray(), onTorch.ToDoubleArray(), (a, b) => Math.Abs(a - b) <= tol * Math.Max(1, Math.Abs(a)));
            var gCpu = grad.Compile()(xt, wy.AsType(dt)).ToDoubleArray();
            var gTorch = TorchJit.Jit(grad, TorchBackend.Cpu)(xt, wy.AsType(dt)).ToHost().ToDoubleArray();
            Assert.Equal(gCpu, gTorch, (a, b) => Math.Abs(a - b) <= tol * Math.Max(1, Math.Abs(a)));
        }
        using var scope = torch.NewDisposeScope();
        var leaf = torch.tensor(xs, torch.ScalarType.Float64).reshape(3, 5).requires_grad_(true);
        var ty = op(leaf);
        Assert.Equal(y.Shape.Select(d => (long)d).ToArray(), ty.shape);
        Assert.Equal(y.ToDoubleArray(), Data(ty.detach()), (a, b) => Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Abs(a)));
        var tw = torch.tensor(wy.ToDoubleArray(), torch.ScalarType.Float64).reshape(ty.shape);
        var tg = torch.autograd.grad([(ty * tw).sum()], [leaf])[0].contiguous().data<double>().ToArray();
        var ours = grad.Compile()(x, wy).ToDoubleArray();
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(tg[i] - ours[i]) <= 1e-12 * Math.Max(1, Math.Abs(tg[i])), $"{name} gradient {i}: ours {ours[i]:R}, torch autograd {tg[i]:R}");
    }

    /// <summary>Vmap of Diag over stacks of vectors and of matrices (its batching rule's gathers) on Torch equals a loop of Diag, with the gradient.</summary>
    [Fact]
    public void Vmapped_diag_on_torch_equals_a_loop()
    {
        var vs = new Tensor(Enumerable.Range(0, 6).Select(i => i * 0.5 - 1).ToArray(), [2, 3]);
        var ms = new Tensor(Enumerable.Range(0, 24).Select(i => Math.Sin(i)).ToArray(), [2, 3, 4]);
        Expression<Func<Tensor, Tensor>> embed = v => Diag(v, 1);
        Expression<Func<Tensor, Tensor>> extract = m => Diag(m, -1) * 3.0;
        foreach (var (f, xs) in new[] { (embed, vs), (extract, ms) })
        {
            var batched = TorchJit.Jit(f.Vmap([0]), TorchBackend.Cpu)(xs).ToHost();
            var loop = Stack(Enumerable.Range(0, 2).Select(i => f.Compile()(Take(xs, new Tensor((double)i), 0))).ToArray(), 0);
            Assert.Equal(loop.Shape, batched.Shape);
            Assert.Equal(loop.ToDoubleArray(), batched.ToDoubleArray());
            Expression<Func<Tensor, Tensor>> loss = x => Sum(f.Invoke(x) * f.Invoke(x), null, false);
            var gb = TorchJit.Jit(loss.Grad().Vmap([0]), TorchBackend.Cpu)(xs).ToHost();
            var gl = Stack(Enumerable.Range(0, 2).Select(i => loss.Grad().Compile()(Take(xs, new Tensor((double)i), 0))).ToArray(), 0);
            Assert.Equal(gl.ToDoubleArray(), gb.ToDoubleArray());
        }
    }

    /// <summary>Integer and bool scans and products keep their declared dtypes and are exact on Torch (beyond float32's 2^24).</summary>
    [Fact]
    public void Integer_scans_and_products_are_exact_on_torch()
    {
        var big = new Tensor(new[] { 16777216.0, 1, 1, 3 }).AsType(DType.Int32);
        Expression<Func<Tensor, Tensor>> cs = v => Cumsum(v, 0, false);
        var s = TorchJit.Jit(cs, TorchBackend.Cpu)(big).ToHost();
        Assert.Equal(DType.Int32, s.DType);
        Assert.Equal(new[] { 16777216, 16777217, 16777218, 16777221 }, s.ToArray<int>());
        var l = new Tensor(new[] { 3.0, -2, 5, 0, 7 }).AsType(DType.Int64);
        Expression<Func<Tensor, Tensor>> cp = v => Cumprod(v, 0, false);
        Expression<Func<Tensor, Tensor>> cm = v => Cummax(v, 0, true);
        Expression<Func<Tensor, Tensor>> pr = v => Prod(v, null, false);
        Assert.Equal(new long[] { 3, -6, -30, 0, 0 }, TorchJit.Jit(cp, TorchBackend.Cpu)(l).ToHost().ToArray<long>());
        Assert.Equal(new long[] { 7, 7, 7, 7, 7 }, TorchJit.Jit(cm, TorchBackend.Cpu)(l).ToHost().ToArray<long>());
        var i32 = new Tensor(new[] { 3.0, 4, 5, 6, 7, 8, 9 }).AsType(DType.Int32);
        var p = TorchJit.Jit(pr, TorchBackend.Cpu)(i32).ToHost();
        Assert.Equal(DType.Int32, p.DType);
        Assert.Equal(3 * 4 * 5 * 6 * 7 * 8 * 9, p.ToArray<int>()[0]);
        var b = new Tensor(new[] { 1.0, 0, 1, 1 }).AsType(DType.Bool);
        var counted = TorchJit.Jit(cs, TorchBackend.Cpu)(b).ToHost();
        Assert.Equal(DType.Int32, counted.DType);
        Assert.Equal(new[] { 1, 1, 2, 3 }, counted.ToArray<int>());
        Expression<Func<Tensor, Tensor>> cmb = v => Cummax(v, 0, false);
        var mb = TorchJit.Jit(cmb, TorchBackend.Cpu)(new Tensor(new[] { 0.0, 1, 0 }).AsType(DType.Bool)).ToHost();
        Assert.Equal(DType.Bool, mb.DType);
        Assert.Equal(new[] { false, true, true }, mb.ToArray<bool>());
    }

    /// <summary>CumLogSumExp at arguments near 1e3 in float32 on Torch: finite, and equal to the CPU backend's within float32 rounding.</summary>
    [Fact]
    public void CumLogSumExp_is_stable_on_torch_at_large_arguments()
    {
        var x = new Tensor(new[] { 1000.0, 1001, 999.5, 1003, -1000, 1003 }).AsType(DType.Float32);
        Expression<Func<Tensor, Tensor>> f = v => Sum(CumLogSumExp(v, 0, false) * new Tensor(new[] { 0.5, -1, 2, 0.25, 1, -0.75 }).AsType(DType.Float32), null, false);
        var cpu = f.Grad().Compile()(x).ToDoubleArray();
        var onTorch = TorchJit.Jit(f.Grad(), TorchBackend.Cpu)(x).ToHost().ToDoubleArray();
        Assert.All(onTorch, g => Assert.True(double.IsFinite(g)));
        Assert.Equal(cpu, onTorch, (a, b) => Math.Abs(a - b) <= 1.5e-4 * Math.Max(1, Math.Abs(a)));
        Assert.True(double.IsFinite(TorchJit.Jit(f, TorchBackend.Cpu)(x).ToHost().ToDoubleArray()[0]));
    }
}
