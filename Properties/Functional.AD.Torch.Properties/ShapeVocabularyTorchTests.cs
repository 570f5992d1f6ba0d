using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The shape vocabulary on the Torch backend: values and gradients equal the CPU backend's, and equal libtorch's own
/// operations (flip, roll, repeat_interleave, tile, nn.functional.pad, triu, tril) and their autograd.
/// </summary>
public class ShapeVocabularyTorchTests
{
    static readonly (string Name, Expression<Func<Tensor, Tensor>> F, Func<torch.Tensor, torch.Tensor> Torch)[] Cases =
    [
        ("Flip", x => Flip(x, new[] { 0, -1 }), t => t.flip(0, 1)),
        ("Roll", x => Roll(x, new[] { 1, -6 }, new[] { 0, 1 }), t => t.roll([1, -6], [0, 1])),
        ("Repeat", x => Repeat(x, 3, 1), t => t.repeat_interleave(3, 1)),
        ("Tile", x => Tile(x, new[] { 2, 3 }), t => t.tile([2, 3])),
        ("Pad", x => Pad(x, new[] { 1, 2, 3, 0 }), t => torch.nn.functional.pad(t, [3, 0, 1, 2])),
        ("Pad(value)", x => Pad(x, new[] { 0, 2, 1, 1 }, 0.75), t => torch.nn.functional.pad(t, [1, 1, 0, 2], value: 0.75)),
        // libtorch pads 2-D inputs by edge and reflection along the last axes of a batch: a leading axis is added
        ("Pad(edge)", x => Pad(x, new[] { 2, 1, 1, 3 }, PadMode.Edge), t => torch.nn.functional.pad(t.unsqueeze(0), [1, 3, 2, 1], PaddingModes.Replicate).squeeze(0)),
        ("Pad(reflect)", x => Pad(x, new[] { 2, 1, 3, 2 }, PadMode.Reflect), t => torch.nn.functional.pad(t.unsqueeze(0), [3, 2, 2, 1], PaddingModes.Reflect).squeeze(0)),
        ("Triu(1)", x => Triu(x, 1), t => t.triu(1)),
        ("Tril(-1)", x => Tril(x, -1), t => t.tril(-1)),
    ];

    public static IEnumerable<object[]> Names => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Values_and_gradients_on_torch_equal_the_cpu_backend_and_libtorchs_own_op_and_autograd(string name)
    {
        var (_, f, op) = Cases.Single(c => c.Name == name);
        var rng = new Random(5);
        var xs = Enumerable.Range(0, 12).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        var x = new Tensor(xs, [3, 4]);
        var w = (Func<int[], Tensor>)(s => new Tensor(Enumerable.Range(0, s.Aggregate(1, (a, b) => a * b)).Select(i => Math.Sin(i + 1.0)).ToArray(), s));
        var y = f.Compile()(x);
        var wy = w(y.Shape.ToArray());
        Expression<Func<Tensor, Tensor, Tensor>> loss = (v, ww) => Sum(f.Invoke(v) * ww, null, false);
        var grad = loss.Grad();
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var xt = x.AsType(dt);
            var onTorch = TorchJit.Jit(f, TorchBackend.Cpu)(xt).ToHost();
            Assert.Equal(dt, onTorch.DType);
            Assert.Equal(f.Compile()(xt).ToDoubleArray(), onTorch.ToDoubleArray());
            var gCpu = grad.Compile()(xt, wy.AsType(dt)).ToDoubleArray();
            var gTorch = TorchJit.Jit(grad, TorchBackend.Cpu)(xt, wy.AsType(dt)).ToHost().ToDoubleArray();
            Assert.Equal(gCpu, gTorch, (a, b) => Math.Abs(a - b) <= (dt == DType.Float64 ? 1e-12 : 1e-5) * Math.Max(1, Math.Abs(a)));
        }
        // libtorch's own op and its autograd, in float64
        using var scope = torch.NewDisposeScope();
        var leaf = torch.tensor(xs, torch.ScalarType.Float64).reshape(3, 4).requires_grad_(true);
        var ty = op(leaf);
        Assert.Equal(y.Shape.Select(d => (long)d).ToArray(), ty.shape);
        Assert.Equal(y.ToDoubleArray(), ty.detach().contiguous().data<double>().ToArray());
        var tw = torch.tensor(wy.ToDoubleArray(), torch.ScalarType.Float64).reshape(ty.shape);
        var tg = torch.autograd.grad([(ty * tw).sum()], [leaf])[0].contiguous().data<double>().ToArray();
        var ours = grad.Compile()(x, wy).ToDoubleArray();
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(tg[i] - ours[i]) <= 1e-12 * Math.Max(1, Math.Abs(tg[i])), $"{name} gradient {i}: ours {ours[i]:R}, torch autograd {tg[i]:R}");
    }

    [Fact]
    public void A_traced_pad_value_gets_the_sum_of_the_cotangent_at_the_padded_positions_on_both_backends()
    {
        // d/dv Sum(Pad(x, widths, v) * w) = the sum of w over the padded positions; here the value is v = Sum(x)
        Expression<Func<Tensor, Tensor>> f = x => Sum(Lax.PadFill(x, Sum(x, null, false), new[] { new AxisMap(AxisMapKind.PadConstant, 0, 1, 1) }) * new Tensor(new[] { 10.0, 1, 2, 3, 100 }), null, false);
        var x = new Tensor(new[] { 0.5, -1, 2 });
        // the direct path gives w[1..3] = [1, 2, 3]; the value's path adds 10 + 100 to every element
        var want = new[] { 111.0, 112, 113 };
        Assert.Equal(want, f.Grad().Compile()(x).ToDoubleArray());
        Assert.Equal(want, Ad.Jit(f.Grad())(x).ToDoubleArray());
        Assert.Equal(want, TorchJit.Jit(f.Grad(), TorchBackend.Cpu)(x).ToHost().ToDoubleArray());
    }
}
