using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;
using TI = TorchSharp.torch.TensorIndex;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// numpy's <c>...</c>, <c>None</c> and integer index tensors in the indexer on the Torch backend: values and gradients
/// (of a weighted sum) equal the CPU backend's, and libtorch's own indexing (<c>t[..., None, 1]</c>, <c>t[idx]</c>) and
/// its autograd, in float64; a bool mask inside a function compiled for Torch is the typed error naming it.
/// </summary>
public class IndexingVocabularyTorchTests
{
    static readonly Tensor Idx = new Tensor(new double[,] { { 1, 0 }, { -1, 1 } }).AsType(DType.Int32);
    static readonly Tensor Cols = new Tensor(new[] { 2.0, 0, 1 }).AsType(DType.Int32);
    static readonly Tensor Rows = new Tensor(new[] { 1.0, 0, 1 }).AsType(DType.Int32);
    static torch.Tensor T(Tensor i) => torch.tensor(i.ToDoubleArray().Select(v => (long)v).ToArray(), i.Dims.Select(d => (long)d).ToArray());

    static readonly (string Name, Expression<Func<Tensor, Tensor>> F, Func<torch.Tensor, torch.Tensor> Torch)[] Cases =
    [
        ("x[..., 1]", x => x[Ix.Ellipsis, 1], t => t[TI.Ellipsis, TI.Single(1)]),
        ("x[None, ..., None, -1]", x => x[Ix.NewAxis, Ix.Ellipsis, Ix.NewAxis, -1], t => t[TI.None, TI.Ellipsis, TI.None, TI.Single(-1)]),
        ("x[1, ..., None, 1:3]", x => x[1, Ix.Ellipsis, Ix.NewAxis, Ix.Range(1, 3)], t => t[TI.Single(1), TI.Ellipsis, TI.None, TI.Slice(1, 3)]),
        ("x[..., ::2] * x[..., 1::2]", x => x[Ix.Ellipsis, Ix.Every(2)] * x[Ix.Ellipsis, Ix.Range(1, null, 2)], t => t[TI.Ellipsis, TI.Slice(null, null, 2)] * t[TI.Ellipsis, TI.Slice(1, null, 2)]),
        ("x[idx]", x => x[Idx], t => t[TI.Tensor(T(Idx))]),
        ("x[:, cols]", x => x[Ix.All, Cols], t => t[TI.Colon, TI.Tensor(T(Cols))]),
        ("x[rows, cols]", x => x[Rows, Cols], t => t[TI.Tensor(T(Rows)), TI.Tensor(T(Cols))]),
    ];

    public static IEnumerable<object[]> Names => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Values_and_gradients_on_torch_equal_the_cpu_backend_and_libtorchs_indexing_and_autograd(string name)
    {
        var (_, f, op) = Cases.Single(c => c.Name == name);
        var xs = Enumerable.Range(0, 24).Select(i => Math.Round(Math.Cos(i * 0.7) * 2, 4)).ToArray();
        var x = new Tensor(xs, [2, 3, 4]);
        var y = f.Compile()(x);
        var wy = new Tensor(Enumerable.Range(0, y.Size).Select(i => Math.Sin(i + 1.0)).ToArray(), y.Shape.ToArray());
        Expression<Func<Tensor, Tensor, Tensor>> loss = (v, ww) => Sum(f.Invoke(v) * ww * f.Invoke(v), null, false);
        var grad = loss.Grad();
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var xt = x.AsType(dt);
            var onTorch = TorchJit.Jit(f, TorchBackend.Cpu)(xt).ToHost();
            Assert.Equal(dt, onTorch.DType);
            Assert.Equal(y.Shape, onTorch.Shape);
            double tol = dt == DType.Float64 ? 1e-12 : 1e-5;
            Assert.Equal(f.Compile()(xt).ToDoubleArray(), onTorch.ToDoubleArray(), (a, b) => Math.Abs(a - b) <= tol * Math.Max(1, Math.Abs(a)));
            var gCpu = grad.Compile()(xt, wy.AsType(dt)).ToDoubleArray();
            var gTorch = TorchJit.Jit(grad, TorchBackend.Cpu)(xt, wy.AsType(dt)).ToHost().ToDoubleArray();
            Assert.Equal(gCpu, gTorch, (a, b) => Math.Abs(a - b) <= tol * Math.Max(1, Math.Abs(a)));
        }
        using var scope = torch.NewDisposeScope();
        var leaf = torch.tensor(xs, torch.ScalarType.Float64).reshape(2, 3, 4).requires_grad_(true);
        var ty = op(leaf);
        Assert.Equal(y.Shape.Select(d => (long)d).ToArray(), ty.shape);
        Assert.Equal(y.ToDoubleArray(), ty.detach().contiguous().data<double>().ToArray());
        var tw = torch.tensor(wy.ToDoubleArray(), torch.ScalarType.Float64).reshape(ty.shape);
        var tg = torch.autograd.grad([(ty * tw * ty).sum()], [leaf])[0].contiguous().data<double>().ToArray();
        var ours = grad.Compile()(x, wy).ToDoubleArray();
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(tg[i] - ours[i]) <= 1e-12 * Math.Max(1, Math.Abs(tg[i])), $"{name} gradient {i}: ours {ours[i]:R}, torch autograd {tg[i]:R}");
    }

    /// <summary>An update through Ellipsis and NewAxis (numpy's x[None, ..., 1] = v) on Torch equals the CPU backend, with the gradient in both operands.</summary>
    [Fact]
    public void Updates_with_ellipsis_and_newaxis_on_torch_equal_the_cpu()
    {
        var x = new Tensor(Enumerable.Range(0, 24).Select(i => i * 0.25 - 3).ToArray(), [2, 3, 4]);
        var v = new Tensor(new[] { 1.5, -2, 0.5 });
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, u) => a.At(Ix.NewAxis, Ix.Ellipsis, 1).Set(u[Ix.NewAxis, Ix.NewAxis, Ix.All] * 2.0) * a;
        var cpu = f.Compile()(x, v);
        Assert.Equal(cpu.ToDoubleArray(), TorchJit.Jit(f, TorchBackend.Cpu)(x, v).ToHost().ToDoubleArray());
        Expression<Func<Tensor, Tensor, Tensor>> loss = (a, u) => Sum(f.Invoke(a, u), null, false);
        Expression<Func<Tensor, Tensor, Tensor>> lossU = (u, a) => Sum(f.Invoke(a, u), null, false);
        Assert.Equal(loss.Grad().Compile()(x, v).ToDoubleArray(), TorchJit.Jit(loss.Grad(), TorchBackend.Cpu)(x, v).ToHost().ToDoubleArray());
        Assert.Equal(lossU.Grad().Compile()(v, x).ToDoubleArray(), TorchJit.Jit(lossU.Grad(), TorchBackend.Cpu)(v, x).ToHost().ToDoubleArray());
        // the value's gradient by hand: 2 * Σ_i x[i, j, 1] for each j
        var xd = x.ToDoubleArray();
        var want = Enumerable.Range(0, 3).Select(j => 2 * (xd[j * 4 + 1] + xd[(3 + j) * 4 + 1])).ToArray();
        Assert.Equal(want, lossU.Grad().Compile()(v, x).ToDoubleArray());
    }

    [Fact]
    public void A_bool_mask_in_a_function_compiled_for_torch_is_a_typed_error_pointing_to_where()
    {
        var x = new Tensor(Enumerable.Range(0, 6).Select(i => (double)i).ToArray(), [2, 3]);
        var m = new Tensor(new double[,] { { 1, 0, 1 }, { 0, 1, 0 } }).AsType(DType.Bool);
        Expression<Func<Tensor, Tensor, Tensor>> f = (v, mask) => Sum(v[mask], null, false);
        var e = Assert.Throws<ShapeException>(() => TorchJit.Jit(f, TorchBackend.Cpu)(x, m));
        Assert.Contains("v[mask]", e.Message);
        Assert.Contains("Np.Where", e.Message);
    }
}
