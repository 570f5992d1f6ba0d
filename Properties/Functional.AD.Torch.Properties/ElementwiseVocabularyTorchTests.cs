using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The elementwise vocabulary on the Torch backend at the arguments where it is hard (tails, edges, poles' neighbours,
/// signs of divisors, halves to round): values and gradients equal the CPU backend's, and the gradients equal
/// libtorch's own autograd of libtorch's own op.
/// </summary>
public class ElementwiseVocabularyTorchTests
{
    /// <summary>(name, function, hard arguments, libtorch's op for autograd or null where the function is not differentiable).</summary>
    static readonly (string Name, Expression<Func<Tensor, Tensor>> F, double[] X, Func<torch.Tensor, torch.Tensor>? Torch)[] Unary =
    [
        ("Asin", x => Asin(x), [-0.999, -0.5, 0, 0.3, 0.99], t => t.asin()),
        ("Acos", x => Acos(x), [-0.999, -0.5, 0, 0.3, 0.99], t => t.acos()),
        ("Tan", x => Tan(x), [-1.5, -0.5, 0, 1, 1.55], t => t.tan()),
        ("Sinh", x => Sinh(x), [-20, -1e-8, 0, 3, 40], t => t.sinh()),
        ("Cosh", x => Cosh(x), [-20, -1e-8, 0, 3, 40], t => t.cosh()),
        ("Asinh", x => Asinh(x), [-1e10, -1e-8, 0, 3, 1e15], t => t.asinh()),
        ("Acosh", x => Acosh(x), [1.0000001, 1.5, 10, 1e10, 1e15], t => t.acosh()),
        ("Atanh", x => Atanh(x), [-0.9999, -1e-8, 0, 0.5, 0.999], t => t.atanh()),
        ("Erfc", x => Erfc(x), [-3, 0, 1, 5, 9], t => t.erfc()),
        ("ErfInv", x => ErfInv(x), [-0.9999, -0.5, 0, 0.3, 0.999], t => t.erfinv()),
        ("Lgamma", x => Lgamma(x), [-2.5, -0.3, 0.01, 1, 2, 30.5], t => t.lgamma()),
        ("Digamma", x => Digamma(x), [-2.5, -0.3, 0.01, 1, 2, 30.5], t => t.digamma()),
        ("Polygamma(1, x)", x => Polygamma(1, x), [-2.5, -0.3, 0.05, 1, 7.5], t => t.polygamma(1)),
        ("Polygamma(3, x)", x => Polygamma(3, x), [-1.5, 0.2, 1, 7.5], t => t.polygamma(3)),
        ("Rsqrt", x => Rsqrt(x), [1e-10, 0.5, 4, 1e12], t => t.rsqrt()),
        ("Cbrt", x => Cbrt(x), [-27, -0.001, 0.5, 8e9], null),
        ("Gelu", x => Gelu(x), [-12, -3, 0, 0.5, 6], t => torch.nn.functional.gelu(t)),
        ("Gelu(approximate: true)", x => Gelu(x, true), [-12, -3, 0, 0.5, 6], t => t.gelu(TorchSharp.Modules.GELU.Approximate.tanh)),
        ("Silu", x => Silu(x), [-40, -3, 0, 0.5, 30], t => torch.nn.functional.silu(t)),
        ("LogSigmoid", x => LogSigmoid(x), [-100, -3, 0, 0.5, 30], t => t.log_sigmoid()),
        ("LeakyRelu(x, 0.1)", x => LeakyRelu(x, 0.1), [-3, -0.5, 0.5, 2], t => torch.nn.functional.leaky_relu(t, 0.1)),
        ("Elu(x, 1.5)", x => Elu(x, 1.5), [-30, -1, -1e-6, 0.5, 2], t => torch.nn.functional.elu(t, 1.5)),
        ("Floor", x => Floor(x), [-2.5, -0.5, 0, 0.5, 1.5], null),
        ("Ceil", x => Ceil(x), [-2.5, -0.5, 0, 0.5, 1.5], null),
        ("Round", x => Round(x), [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4], null),
        ("Trunc", x => Trunc(x), [-2.5, -0.5, 0, 0.5, 1.5], null),
    ];

    public static IEnumerable<object[]> UnaryNames => Unary.Select(u => new object[] { u.Name });

    static void Same(string what, Tensor torchValue, Tensor cpu, DType dt, double rtol64 = 1e-12)
    {
        var h = torchValue.ToHost();
        Assert.Equal(cpu.DType, h.DType);
        var (rtol, atol) = dt == DType.Float64 ? (rtol64, 1e-300) : (2e-6, 1e-37);
        var a = h.ToDoubleArray(); var b = cpu.ToDoubleArray();
        for (int i = 0; i < a.Length; i++)
        {
            if (double.IsNaN(a[i]) && double.IsNaN(b[i])) continue;
            Assert.True(a[i] == b[i] || Math.Abs(a[i] - b[i]) <= atol + rtol * Math.Abs(b[i]), $"{what} in {DTypes.Name(dt)}, element {i}: Torch {a[i]:R}, CPU {b[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void Values_and_gradients_on_torch_equal_the_cpu_backend_and_torch_autograd_at_hard_arguments(string name)
    {
        var (_, f, xs, op) = Unary.Single(u => u.Name == name);
        Expression<Func<Tensor, Tensor>> loss = x => Sum(f.Invoke(x), null, false);
        var grad = loss.Grad();
        var onTorch = TorchJit.Jit(f, TorchBackend.Cpu);
        var gradOnTorch = TorchJit.Jit(grad, TorchBackend.Cpu);
        foreach (var dt in new[] { DType.Float64, DType.Float32 })
        {
            var x = new Tensor(xs).AsType(dt);
            Same($"{name} value", onTorch(x), f.Compile()(x), dt);
            var gCpu = grad.Compile()(x);
            Same($"{name} gradient", gradOnTorch(x), gCpu, dt, 1e-10);
            if (op is null || dt != DType.Float64) continue;
            // libtorch's autograd of its own op
            using var scope = torch.NewDisposeScope();
            var leaf = torch.tensor(xs, torch.ScalarType.Float64).requires_grad_(true);
            var g = torch.autograd.grad([op(leaf).sum()], [leaf])[0].data<double>().ToArray();
            var ours = gCpu.ToDoubleArray();
            for (int i = 0; i < xs.Length; i++)
                Assert.True(Math.Abs(g[i] - ours[i]) <= 1e-9 * Math.Max(1, Math.Abs(g[i])), $"{name}'({xs[i]}): ours {ours[i]:R}, torch autograd {g[i]:R}");
        }
    }

    [Fact]
    public void Binary_functions_on_torch_equal_the_cpu_backend_with_broadcasting_and_signs()
    {
        double[] a = [-7, 7, -7, 7, -0.5, 2.5, 1e300, 3], b = [3, -3, -3, 3, -1, 1, 1e300, 4];
        var fs = new (string Name, Expression<Func<Tensor, Tensor, Tensor>> F)[]
        {
            ("Atan2", (y, x) => Atan2(y, x)), ("Hypot", (p, q) => Hypot(p, q)), ("LogAddExp", (p, q) => LogAddExp(p, q)),
            ("Mod", (p, q) => Mod(p, q)), ("FloorDivide", (p, q) => FloorDivide(p, q)), ("LeakyRelu", (x, s) => LeakyRelu(x, s)), ("Elu", (x, s) => Elu(x, s)),
            ("Polygamma", (n, x) => Polygamma(n, x)),
        };
        foreach (var (name, f) in fs)
            foreach (var dt in new[] { DType.Float64, DType.Float32 })
            {
                var (ta, tb) = name == "Polygamma"
                    ? (new Tensor(new[] { 0.0, 1, 2, 3, 1.5, -1, 0, 1 }).AsType(dt), new Tensor(new[] { 0.5, 0.5, 2.5, -1.5, 2, 2, 30, 1e3 }).AsType(dt))
                    : (new Tensor(a).AsType(dt), new Tensor(b).AsType(dt));
                if (name == "Hypot" || name == "LogAddExp" || name == "Atan2" || name == "Elu") { ta = Clip(ta, -1e30, 1e30); tb = Clip(tb, -1e30, 1e30); }
                Same($"{name}", TorchJit.Jit(f, TorchBackend.Cpu)(ta, tb), f.Compile()(ta, tb), dt, 1e-12);
                // broadcasting a column against a row
                var col = Reshape(ta, new[] { 8, 1 }); var row = Reshape(tb, new[] { 1, 8 });
                Same($"{name} (broadcast)", TorchJit.Jit(f, TorchBackend.Cpu)(col, row), f.Compile()(col, row), dt, 1e-12);
            }
    }

    [Fact]
    public void Integer_mod_and_floor_divide_and_the_tests_on_torch_equal_the_cpu_backend()
    {
        Expression<Func<Tensor, Tensor, Tensor>> mod = (p, q) => Mod(p, q), div = (p, q) => FloorDivide(p, q);
        Expression<Func<Tensor, Tensor>> nan = x => IsNan(x), fin = x => IsFinite(x);
        foreach (var dt in new[] { DType.Int32, DType.Int64 })
        {
            var a = new Tensor(new[] { -7.0, 7, -7, 7, 0, -2147483647, 2147483647, -1 }).AsType(dt);
            var b = new Tensor(new[] { 3.0, -3, -3, 3, 5, 10, -10, 2 }).AsType(dt);
            foreach (var f in new[] { mod, div })
            {
                var cpu = f.Compile()(a, b);
                var got = TorchJit.Jit(f, TorchBackend.Cpu)(a, b).ToHost();
                Assert.Equal(dt, got.DType);
                Assert.Equal(cpu.ToDoubleArray(), got.ToDoubleArray());
            }
        }
        var v = new Tensor(new[] { 1, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0 });
        foreach (var dt in new[] { DType.Float64, DType.Float32, DType.Float16, DType.Int32 })
            foreach (var f in new[] { nan, fin })
            {
                var x = dt == DType.Int32 ? new Tensor(new[] { 1.0, -2 }).AsType(dt) : v.AsType(dt);
                var got = TorchJit.Jit(f, TorchBackend.Cpu)(x).ToHost();
                Assert.Equal(DType.Bool, got.DType);
                Assert.Equal(f.Compile()(x).ToArray<bool>(), got.ToArray<bool>());
            }
    }
}
