// A user's first test project, built against the packages in artifacts/packages (see Consumer.csproj.template).
using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Functional.AD;
using Functional.AD.Testing;
using Functional.AD.Torch;
using Xunit;
using static Functional.AD.Np;

public sealed record Params(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

public class ConsumerTests
{
    /// <summary>The package carries Functional.AD precompiled (ReadyToRun) for linux-x64, linux-arm64, win-x64 and
    /// osx-arm64: on those the host loads that copy, for this test project too (built for no runtime identifier).</summary>
    [Fact]
    public void On_a_runtime_the_package_precompiles_for_the_library_loaded_is_the_ReadyToRun_image()
    {
        var rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        if (rid is not ("linux-x64" or "linux-arm64" or "win-x64" or "osx-arm64")) return;
        var location = typeof(Ad).Assembly.Location;
        Assert.Contains(Path.Combine("runtimes", rid, "lib"), location);
        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(location));
        Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, $"{location} has no ReadyToRun code");
    }

    static readonly Expression<Func<Params, Tensor, Tensor, Tensor>> Loss = (p, x, y) =>
        Mean(Square(Tanh(Dot(x, Transpose(p.W1)) + p.B1) * p.W2 + p.B2 - y));

    static Params Init() => Tree.Normal(PrngKey.Create(0), new Params(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])), 0.5);

    static readonly Tensor X = new(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } });
    static readonly Tensor Y = new(new float[,] { { 0, 1, 0 }, { 1, 0, 1 }, { 1, 1, 0 }, { 0, 0, 1 } });

    [Fact]
    public void The_gradient_on_the_cpu_jit_and_on_torch_agree_and_match_finite_differences()
    {
        var grad = Ad.Grad(Loss);
        var p = Init();
        var cpu = Ad.Jit(grad)(p, X, Y);
        var torch = TorchTensors.ToHost(grad.JitTorch(TorchBackend.Cpu)(p, X, Y));
        foreach (var (a, b) in Tree.Zip(cpu, torch))
            Assert.True(a.AllClose(b, rtol: 1e-4, atol: 1e-5), $"cpu jit {a} vs torch {b}");
        // an oracle that is neither backend: float64 central differences
        Expression<Func<Params, Tensor>> lossAtData = q => Loss.Invoke(q, X, Y);
        var check = GradCheck.Check(lossAtData, Tree.Map(t => t.AsType(DType.Float64), p), tolerance: 1e-5);
        Assert.True(check.Ok, check.ToString());
    }

    static readonly Expression<Func<Tensor, Tensor>> Softplus = x => Sum(Log(1 + Exp(-x)) * x);

    [Property(MaxTest = 30)]
    public Property A_users_loss_has_the_gradient_finite_differences_give() =>
        Prop.ForAll(Gens.Tensor(DType.Float64, Domain.Any, minRank: 1).ToArbitrary(), x => GradCheck.Check(Softplus, x).Ok);

    [Fact]
    public void A_checkpoint_round_trips_through_a_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"consumer-{Guid.NewGuid():N}.safetensors");
        try
        {
            var p = Init();
            Tree.Save(path, p);
            foreach (var (a, b) in Tree.Zip(p, Tree.Load<Params>(path))) Assert.Equal(a.ToFloatArray(), b.ToFloatArray());
        }
        finally { File.Delete(path); }
    }
}
