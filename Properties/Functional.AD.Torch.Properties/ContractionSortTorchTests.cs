using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Einsum, TensorDot, Kron and sorting on the Torch backend: values and gradients equal the CPU backend's, and equal
/// libtorch's own einsum, tensordot, kron, sort, topk and searchsorted and their autograd.
/// </summary>
public class ContractionSortTorchTests
{
    static double[] Rand(int seed, int n)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble() * 4 - 2, 4)).ToArray();
    }

    static readonly (string Name, Expression<Func<Tensor, Tensor, Tensor>> F, Func<torch.Tensor, torch.Tensor, torch.Tensor> Torch, int[] A, int[] B)[] Cases =
    [
        ("Einsum(bmm)", (a, b) => Einsum("bij,bjk->bik", a, b), (a, b) => torch.einsum("bij,bjk->bik", a, b), [2, 3, 4], [2, 4, 5]),
        ("Einsum(ellipsis)", (a, b) => Einsum("...ij,...jk->...ik", a, b), (a, b) => torch.einsum("...ij,...jk->...ik", a, b), [2, 1, 3, 2], [3, 2, 4]),
        ("Einsum(trace and sum)", (a, b) => Einsum("iij,jk->k", a, b), (a, b) => torch.einsum("iij,jk->k", a, b), [3, 3, 2], [2, 4]),
        ("TensorDot", (a, b) => TensorDot(a, b, 2), (a, b) => torch.tensordot(a, b, [1, 2], [0, 1]), [2, 3, 4], [3, 4, 2]),
        ("TensorDot(axes)", (a, b) => TensorDot(a, b, new[] { 0, 2 }, new[] { 1, 0 }), (a, b) => torch.tensordot(a, b, [0, 2], [1, 0]), [3, 2, 4], [4, 3]),
        ("Kron", (a, b) => Kron(a, b), (a, b) => torch.kron(a, b), [2, 3], [3, 2]),
        ("Sort", (a, b) => Sort(a, 0) * b, (a, b) => a.sort(0, false, true).Values * b, [4, 3], [4, 3]),
        ("Sort(axis: null)", (a, b) => Sort(a, null) * b, (a, b) => a.flatten().sort(0, false, true).Values * b, [4, 3], [12]),
        ("TopK", (a, b) => TopK(a, 2).Item1 * b, (a, b) => a.topk(2, -1).values * b, [3, 5], [3, 2]),
    ];

    public static IEnumerable<object[]> Names => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Values_and_gradients_on_torch_equal_the_cpu_backend_and_libtorchs_own_op_and_autograd(string name)
    {
        var (_, f, op, sa, sb) = Cases.Single(c => c.Name == name);
        int na = sa.Aggregate(1, (x, y) => x * y), nb = sb.Aggregate(1, (x, y) => x * y);
        var xa = Rand(1, na); var xb = Rand(2, nb);
        var a = new Tensor(xa, sa); var b = new Tensor(xb, sb);
        var y = f.Compile()(a, b);
        var w = new Tensor(Enumerable.Range(0, y.Size).Select(i => Math.Sin(i + 1.0)).ToArray(), y.Shape.ToArray());
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss = (u, v, ww) => Sum(f.Invoke(u, v) * ww, null, false);
        var grad = Ad.Grad(loss);
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var (at, bt) = (a.AsType(dt), b.AsType(dt));
            var onTorch = TorchJit.Jit(f, TorchBackend.Cpu)(at, bt).ToHost();
            Assert.Equal(dt, onTorch.DType);
            var cpu = f.Compile()(at, bt).ToDoubleArray();
            Assert.Equal(cpu, onTorch.ToDoubleArray(), (p, q) => Math.Abs(p - q) <= (dt == DType.Float64 ? 1e-12 : 1e-5) * Math.Max(1, Math.Abs(p)));
            var gCpu = grad.Compile()(at, bt, w.AsType(dt)).ToDoubleArray();
            var gTorch = TorchJit.Jit(grad, TorchBackend.Cpu)(at, bt, w.AsType(dt)).ToHost().ToDoubleArray();
            Assert.Equal(gCpu, gTorch, (p, q) => Math.Abs(p - q) <= (dt == DType.Float64 ? 1e-12 : 1e-5) * Math.Max(1, Math.Abs(p)));
        }
        // libtorch's own op and its autograd, in float64
        using var scope = torch.NewDisposeScope();
        var ta = torch.tensor(xa, torch.ScalarType.Float64).reshape(sa.Select(d => (long)d).ToArray()).requires_grad_(true);
        var tb = torch.tensor(xb, torch.ScalarType.Float64).reshape(sb.Select(d => (long)d).ToArray()).requires_grad_(true);
        var ty = op(ta, tb);
        Assert.Equal(y.Shape.Select(d => (long)d).ToArray(), ty.shape);
        var tv = ty.detach().contiguous().data<double>().ToArray();
        var yv = y.ToDoubleArray();
        for (int i = 0; i < yv.Length; i++) Assert.True(Math.Abs(yv[i] - tv[i]) <= 1e-12 * Math.Max(1, Math.Abs(tv[i])), $"{name} value {i}: ours {yv[i]:R}, torch {tv[i]:R}");
        var tw = torch.tensor(w.ToDoubleArray(), torch.ScalarType.Float64).reshape(ty.shape);
        var tg = torch.autograd.grad([(ty * tw).sum()], [ta, tb]);
        var ours = grad.Compile()(a, b, w);
        // the gradient with respect to both operands: Grad differentiates the first argument; the second by swapping
        var ga = tg[0].contiguous().data<double>().ToArray();
        var oa = ours.ToDoubleArray();
        for (int i = 0; i < oa.Length; i++) Assert.True(Math.Abs(ga[i] - oa[i]) <= 1e-12 * Math.Max(1, Math.Abs(ga[i])), $"{name} gradient {i}: ours {oa[i]:R}, torch autograd {ga[i]:R}");
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> lossB = (v, u, ww) => Sum(f.Invoke(u, v) * ww, null, false);
        var ob = Ad.Grad(lossB).Compile()(b, a, w).ToDoubleArray();
        var gb = tg[1].contiguous().data<double>().ToArray();
        for (int i = 0; i < ob.Length; i++) Assert.True(Math.Abs(gb[i] - ob[i]) <= 1e-12 * Math.Max(1, Math.Abs(gb[i])), $"{name} gradient of b {i}: ours {ob[i]:R}, torch autograd {gb[i]:R}");
    }

    [Fact]
    public void Argsort_TopK_indices_and_SearchSorted_on_torch_equal_the_cpu_and_libtorch()
    {
        var x = new Tensor(new[] { 3.0, double.NaN, 1, 3, -1, 0.5, 2, 2 }, [2, 4]);
        Expression<Func<Tensor, Tensor>> arg = v => Argsort(v, -1);
        Expression<Func<Tensor, Tensor>> top = v => TopK(v, 3).Item2;
        Expression<Func<Tensor, Tensor>> flat = v => Argsort(v, null);
        Expression<Func<Tensor, Tensor, Tensor>> ss = (s, v) => SearchSorted(s, v, "right");
        foreach (var (f, want) in new[] { (arg, new[] { 2.0, 0, 3, 1, 0, 1, 2, 3 }), (top, new[] { 1.0, 0, 3, 2, 3, 1 }), (flat, new[] { 4.0, 5, 2, 6, 7, 0, 3, 1 }) })
        {
            Assert.Equal(want, f.Compile()(x).ToDoubleArray());
            var t = TorchJit.Jit(f, TorchBackend.Cpu)(x).ToHost();
            Assert.Equal(DType.Int32, t.DType);
            Assert.Equal(want, t.ToDoubleArray());
        }
        var sorted = new Tensor(new[] { -1.0, 0, 0, 2, 5 });
        var v = new Tensor(new[] { 0.0, 3, -2, 5, 9 });
        var cpu = ss.Compile()(sorted, v).ToDoubleArray();
        Assert.Equal(new[] { 3.0, 4, 0, 5, 5 }, cpu);
        Assert.Equal(cpu, TorchJit.Jit(ss, TorchBackend.Cpu)(sorted, v).ToHost().ToDoubleArray());
        using var scope = torch.NewDisposeScope();
        var lib = torch.searchsorted(torch.tensor(new[] { -1.0, 0, 0, 2, 5 }), torch.tensor(new[] { 0.0, 3, -2, 5, 9 }), right: true).data<long>().ToArray();
        Assert.Equal(cpu, lib.Select(i => (double)i).ToArray());
    }
}
