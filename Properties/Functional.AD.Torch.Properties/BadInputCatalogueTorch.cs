using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Catalogue, Torch: bad inputs to the Torch compiler and the device boundary, each with the exception type and what
/// its message must name (see BadInputCatalogue*.cs in Functional.AD.Properties for the rest).
/// </summary>
public sealed class BadInputCatalogueTorch
{
    public sealed record Case(string Name, Action Act, Type Expected, string[] Fragments);

    static Case C<TEx>(string name, Func<object?> act, params string[] fragments) where TEx : Exception => new(name, () => act(), typeof(TEx), fragments);

    static Tensor V(params double[] xs) => new(xs);
    static readonly Tensor x3 = V(1, 2, 3);
    static readonly TorchBackend cpu = TorchBackend.Cpu;
    static readonly Expression<Func<Tensor, Tensor, Tensor>> take = (x, i) => Take(x, i);
    static readonly Expression<Func<Tensor, Tensor>> tanh = x => Tanh(x);
    static readonly Expression<Func<Tensor, Tensor>> sumSin = x => Sum(Sin(x));

    public static readonly Case[] Cases =
    [
        C<ArgumentOutOfRangeException>("Take an index past the end", () => take.JitTorch(cpu)(x3, V(5)), "Np.Take", "index 5", "-3 .. 2"),
        C<ArgumentOutOfRangeException>("Take an index before the start", () => take.JitTorch(cpu)(x3, V(-4)), "index -4", "-3 .. 2"),
        C<ArgumentException>("Take a fractional index", () => take.JitTorch(cpu)(x3, V(1.5)), "integral", "1.5"),
        C<ArgumentException>("Take a NaN index", () => take.JitTorch(cpu)(x3, V(double.NaN)), "integral"),
        C<ArgumentOutOfRangeException>("Take along axis 1 out of range", () => ((Expression<Func<Tensor, Tensor, Tensor>>)((x, i) => Take(x, i, 1))).JitTorch(cpu)(Reshape(Arange(6, DType.Float64), [2, 3]), V(0, 3)), "index 3", "axis 1"),
        C<ArgumentOutOfRangeException>("Take in a gradient out of range", () => ((Expression<Func<Tensor, Tensor, Tensor>>)((x, i) => Sum(Take(x, i)))).Grad().JitTorch(cpu)(x3, V(7)), "index 7"),
        C<TorchDeviceException>("FromTorch of a meta tensor", () => TorchTensors.FromTorch(torch.zeros(3, device: torch.META)), "meta", "no data", "cpu"),
        C<ArgumentException>("FromTorch of a uint8 tensor", () => TorchTensors.FromTorch(torch.zeros(3, torch.ScalarType.Byte)), "Byte", "int32, int64 or bool"),
        C<ArgumentNullException>("FromTorch of null", () => TorchTensors.FromTorch(null!), "t"),
        C<ArgumentNullException>("JitTorch of null", () => TorchJit.Jit((Expression<Func<Tensor, Tensor>>)null!, cpu), "f"),
        C<ArgumentNullException>("JitTorch with a null backend", () => tanh.JitTorch(null!), "backend"),
        C<ArgumentOutOfRangeException>("JitTorch donating a missing parameter", () => tanh.JitTorch(cpu, 3), "donate", "parameter 3"),
        C<ArgumentNullException>("JitTorch with a null argument", () => tanh.JitTorch(cpu)(null!), "x", "null"),
        C<ShapeException>("JitTorch of a mismatched Dot", () => ((Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => Dot(a, b))).JitTorch(cpu)(V(1, 2), x3), "Dot(a, b)", "float64[2]", "float64[3]"),
        C<ShapeException>("JitTorch of a Jvp with a [1] tangent", () => tanh.Jvp().JitTorch(cpu)(x3, V(1)), "tangent dx", "float64[1]", "float64[3]"),
        C<ShapeException>("JitTorch of a Vjp with a [3,3] cotangent", () => tanh.Vjp().JitTorch(cpu)(x3, Reshape(Arange(9, DType.Float64), [3, 3])), "cotangent ct", "float64[3,3]"),
        C<ShapeException>("JitTorch of an Hvp with a [1] direction", () => sumSin.Hvp().JitTorch(cpu)(x3, V(1)), "direction v", "float64[1]"),
        C<TorchDeviceException>("Parse of an unknown device", () => TorchBackend.Parse("tpu"), "\"tpu\"", "cuda:N"),
    ];

    public static TheoryData<string> Names
    {
        get { var d = new TheoryData<string>(); foreach (var c in Cases) d.Add(c.Name); return d; }
    }

    [Theory, MemberData(nameof(Names))]
    public void Rejected(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var e = Record.Exception(c.Act);
        Assert.True(e is not null, $"silently accepted: {name}");
        Assert.True(c.Expected == e!.GetType(), $"{name}: expected {c.Expected.Name}, got {e.GetType().Name}: {e.Message}");
        foreach (var f in c.Fragments)
            Assert.True(e.Message.Contains(f, StringComparison.Ordinal), $"{name}: \"{f}\" not in:\n{e.Message}");
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            Assert.False(inner is NullReferenceException or IndexOutOfRangeException or InvalidOperationException or System.Runtime.InteropServices.ExternalException, $"{name}: wraps {inner.GetType().Name}");
    }
}

/// <summary>Ad.DebugNans on the Torch path: a NaN planted forward and in a gradient is found and named.</summary>
[Collection(nameof(TorchDebugNansCollection))]
public sealed class TorchDebugNansTests
{
    static Tensor V(params double[] xs) => new(xs);

    [Fact]
    public void DebugNans_finds_a_NaN_planted_in_a_Torch_compiled_function_and_in_its_gradient()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Log(x - 1.0) * x);
        var fwd = f.JitTorch(TorchBackend.Cpu);
        var grad = f.Grad().JitTorch(TorchBackend.Cpu);
        bool saved = Ad.DebugNans;
        try
        {
            Ad.DebugNans = false;
            Assert.True(double.IsNaN((double)fwd(V(0.5, 3)).ToHost()));    // off: silent
            Ad.DebugNans = true;
            var e = Assert.Throws<NanException>(() => fwd(V(0.5, 3)));
            Assert.Equal("Log", e.Primitive);
            Assert.Contains("TorchJit", e.Message);
            Assert.Contains("`Log((x - 1))`", e.Message);
            Assert.Contains("float64[2]", e.Message);
            var g = Assert.Throws<NanException>(() => grad(V(0.5, 3)));
            Assert.Contains("Log((x - 1))", g.Message);
            Assert.Equal(Math.Log(2) * 3 + Math.Log(1) * 2, (double)fwd(V(3, 2)).ToHost(), 10);   // finite: no error
        }
        finally { Ad.DebugNans = saved; }
    }
}

/// <summary>Tests that flip the process-wide <see cref="Ad.DebugNans"/> switch run alone.</summary>
[CollectionDefinition(nameof(TorchDebugNansCollection), DisableParallelization = true)]
public sealed class TorchDebugNansCollection;
