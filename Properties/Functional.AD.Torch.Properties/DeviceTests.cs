using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>A fact that runs only where CUDA is available, and says why it is skipped otherwise.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available())
            Skip = "CUDA is not available: torch.cuda.is_available() is false (this build references libtorch-cpu-linux-x64; a GPU machine references libtorch-cuda-12.8-linux-x64).";
    }
}

public record XorParams(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

/// <summary>Device storage: where tensors live, what is copied, what is freed, and the errors for bad devices and dtypes.</summary>
public class DeviceTests
{
    static readonly Expression<Func<Tensor, Tensor>> Sigmoid = x => 1.0 / (1 + Exp(-x));
    static readonly Expression<Func<XorParams, Tensor, Tensor>> Net = (p, x) => Sigmoid.Invoke(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1)) + p.B2);
    static readonly Expression<Func<XorParams, Tensor, Tensor, Tensor>> Loss =
        (p, x, y) => Let(Net.Invoke(p, x), o => -y * Log(o) - (1 - y) * Log(1 - o));

    static Expression<Func<XorParams, Tensor, Tensor, XorParams>> TrainStep(double lr)
    {
        var grad = Loss.Grad();
        var sgd = Optim.Sgd<XorParams>(lr);
        return (p, x, y) => sgd.Invoke(p, grad.Invoke(p, x, y));
    }

    static XorParams Init(int seed) => Tree.Normal(PrngKey.Create(seed), new XorParams(Zeros([3, 2]), Zeros([3]), Zeros([3]), Zeros([])));

    static readonly float[][] Xs = [[0, 0], [0, 1], [1, 0], [1, 1]];
    static readonly float[] Ys = [0, 1, 1, 0];

    [Fact]
    public void Device_strings_parse_and_unknown_ones_fail_with_the_accepted_forms()
    {
        Assert.Same(TorchBackend.Cpu, TorchBackend.Parse("cpu"));
        Assert.Same(TorchBackend.Cpu, TorchBackend.Parse(" CPU "));
        var e = Assert.Throws<TorchDeviceException>(() => TorchBackend.Parse("gpu0"));
        Assert.Contains("\"gpu0\"", e.Message);
        Assert.Contains("\"cpu\", \"cuda\"", e.Message);
        Assert.Contains("cuda:N", e.Message);
        Assert.Throws<TorchDeviceException>(() => TorchBackend.Parse("cuda:-1"));
        Assert.Throws<TorchDeviceException>(() => TorchBackend.Parse("cuda:x"));
    }

    [Fact]
    public void Cuda_where_there_is_none_is_an_error_not_a_crash()
    {
        if (torch.cuda.is_available())
        {
            int n = torch.cuda.device_count();
            var e = Assert.Throws<TorchDeviceException>(() => TorchBackend.Parse($"cuda:{n}"));
            Assert.Contains($"sees {n} CUDA device", e.Message);
            return;
        }
        foreach (var s in new[] { "cuda", "cuda:0", "cuda:3" })
        {
            var e = Assert.Throws<TorchDeviceException>(() => TorchBackend.Parse(s));
            Assert.Contains("torch.cuda.is_available() is false", e.Message);
            Assert.Contains("libtorch-cuda-12.8-linux-x64", e.Message);
        }
        Assert.Throws<TorchDeviceException>(() => TorchBackend.Cuda());
    }

    [Fact]
    public void Importing_keeps_every_dtype_and_names_the_ones_without_one()
    {
        using var i64 = torch.arange(6, torch.ScalarType.Int64).reshape(2, 3);
        var t = TorchTensors.FromTorch(i64);
        Assert.Equal(DType.Int64, t.DType);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5 }, t.ToArray<long>());
        foreach (var (st, dt) in new[] { (torch.ScalarType.Int32, DType.Int32), (torch.ScalarType.Bool, DType.Bool), (torch.ScalarType.Float16, DType.Float16),
                     (torch.ScalarType.BFloat16, DType.BFloat16), (torch.ScalarType.Float32, DType.Float32), (torch.ScalarType.Float64, DType.Float64) })
        {
            using var src = torch.tensor(new float[] { 0, 1, 2.5f }).to_type(st);
            var x = TorchTensors.FromTorch(src);
            Assert.Equal(dt, x.DType);
            Assert.Equal(src.to_type(torch.ScalarType.Float64).data<double>().ToArray(), x.ToDoubleArray());
            // and back: the same libtorch dtype
            using var back = x.ToTorch();
            Assert.Equal(st, back.dtype);
        }
        using var u8 = torch.ones(4, torch.ScalarType.Byte);
        var e = Assert.Throws<ArgumentException>(() => TorchTensors.FromTorch(u8, takeOwnership: true));
        Assert.Contains("Byte", e.Message);
        Assert.Contains("[4]", e.Message);
        Assert.Contains("to_type", e.Message);
    }

    [Fact]
    public void A_tensor_on_another_device_is_refused_with_both_devices_named()
    {
        // a storage that says it lives on cuda:0 (its data is on the CPU: no GPU here), passed to a CPU function
        var elsewhere = TorchBackend.Unchecked("cuda:0", 0);
        var x = new Tensor(new TorchStorage(torch.ones(3), elsewhere), [3]);
        Expression<Func<Tensor, Tensor>> f = v => Tanh(v) * 2.0;
        var jf = f.JitTorch(TorchBackend.Cpu);
        var e = Assert.Throws<TorchDeviceException>(() => jf(x));
        Assert.Contains("argument v (float32[3])", e.Message);
        Assert.Contains("lives on cuda:0", e.Message);
        Assert.Contains("compiled for cpu", e.Message);
        Assert.Contains("ToDevice", e.Message);
    }

    [CudaFact]
    public void On_cuda_results_stay_on_the_device_and_match_the_cpu()
    {
        var cuda = TorchBackend.Cuda();
        Expression<Func<Tensor, Tensor>> f = v => Np.Sum(Tanh(v) * v, null, false);
        var x = new Tensor(new[] { 0.5, -1.0, 2.0 });
        var r = f.Grad().JitTorch(cuda)(x.ToDevice(cuda));
        Assert.Equal(cuda, ((TorchStorage)r.Storage).Backend);
        Assert.True(r.ToHost().AllClose(f.Grad().Compile()(x), 1e-12, 1e-12));
    }

    [Fact]
    public void Import_and_export_round_trip_and_ownership_is_explicit()
    {
        using var t = torch.tensor(new[] { 1.0, 2.0, 3.0 });
        var copy = TorchTensors.FromTorch(t);                 // copied on the device: later changes are not seen
        t.mul_(10);
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, copy.ToDoubleArray());
        var owned = torch.tensor(new float[] { 4, 5 });
        var adopted = TorchTensors.FromTorch(owned, takeOwnership: true);
        Assert.Same(owned, ((TorchStorage)adopted.Storage).Value);   // zero-copy
        var back = adopted.MoveToTorch();                    // zero-copy out; the tensor is empty afterwards
        Assert.Same(owned, back);
        Assert.Throws<ObjectDisposedException>(() => adopted.ToDoubleArray());
        back.Dispose();
        using var exported = copy.ToTorch();                  // a copy the caller owns
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, exported.data<double>().ToArray());
    }

    [Fact]
    public void A_call_whose_inputs_live_on_the_device_copies_nothing_between_host_and_device()
    {
        var cpu = TorchBackend.Cpu;
        var step = TrainStep(1.0).JitTorch(cpu);
        var p = TorchTensors.ToDevice(Init(0), cpu);
        var x = new Tensor(Xs[1]).ToDevice(cpu);
        var y = Tensor.Scalar(1, DType.Float32).ToDevice(cpu);
        p = step(p, x, y);                                   // compiles
        long compiles = TorchFunction.Compiles;
        long up = TorchStorage.HostToDevice, down = TorchStorage.DeviceToHost;
        for (int i = 0; i < 20; i++) p = step(p, x, y);
        Assert.Equal(up, TorchStorage.HostToDevice);
        Assert.Equal(down, TorchStorage.DeviceToHost);
        Assert.IsType<TorchStorage>(p.W1.Storage);
        Assert.Equal(compiles, TorchFunction.Compiles);
        // host inputs are uploaded once per call, one copy per host leaf
        var xHost = new Tensor(Xs[1]);
        step(p, xHost, y);
        Assert.Equal(up + 1, TorchStorage.HostToDevice);
        Assert.Equal(down, TorchStorage.DeviceToHost);
    }

    [Fact]
    public void Ten_thousand_donated_xor_steps_keep_the_live_tensor_count_flat_and_solve_xor()
    {
        var cpu = TorchBackend.Cpu;
        var step = TrainStep(1.0).JitTorch(cpu, 0);          // donate the parameters: the step frees what it replaces
        var xs = Xs.Select(x => new Tensor(x).ToDevice(cpu)).ToArray();
        var ys = Ys.Select(y => Tensor.Scalar(y, DType.Float32).ToDevice(cpu)).ToArray();
        var p = TorchTensors.ToDevice(Init(0), cpu);
        var rng = new Random(0);
        for (int i = 0; i < 100; i++) { int k = rng.Next(4); p = step(p, xs[k], ys[k]); }
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var old = p;
        for (int i = 0; i < 10_000; i++) { int k = rng.Next(4); p = step(p, xs[k], ys[k]); }
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(((TorchStorage)old.W1.Storage).IsDisposed);
        var e = Assert.Throws<ObjectDisposedException>(() => old.W1.ToDoubleArray());
        Assert.Contains("donated", e.Message);
        // and the training worked: the host net classifies all four inputs
        var host = TorchTensors.ToHost(p);
        var net = Net.Compile();
        for (int k = 0; k < 4; k++) Assert.Equal(Ys[k], (double)net(host, new Tensor(Xs[k])) > 0.5 ? 1f : 0f);
    }

    [Fact]
    public void Temporaries_of_a_call_are_freed_inside_the_call()
    {
        Expression<Func<Tensor, Tensor>> f = v => Np.Sum(Exp(Tanh(v) * v + 1.0) / (v * v + 1), null, false);
        var g = f.Grad().JitTorch(TorchBackend.Cpu);
        var x = new Tensor(new[] { 0.5, -1.0, 2.0 }).ToDevice(TorchBackend.Cpu);
        var r = g(x);
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var r2 = g(x);
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // only the result is alive
        r2.DisposeDevice();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(r.ToHost().AllClose(f.Grad().Compile()(x.ToHost()), 1e-12, 1e-12));
    }

    [Fact]
    public void Jit_compiles_once_per_signature_and_handles_new_shapes()
    {
        Expression<Func<Tensor, Tensor>> f = v => Np.Sum(v * v, null, false);
        var jf = f.JitTorch(TorchBackend.Cpu);
        long before = TorchFunction.Compiles;
        Assert.Equal(14.0, (double)jf(new Tensor(new[] { 1.0, 2.0, 3.0 })), 12);
        Assert.Equal(30.0, (double)jf(new Tensor(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } })), 12);
        Assert.Equal(14.0, (double)jf(new Tensor(new[] { 1f, 2f, 3f })), 5);
        Assert.Equal(3, TorchFunction.Compiles - before);
        for (int i = 0; i < 5; i++) jf(new Tensor(new[] { 1.0, 2.0, 3.0 + i }));
        Assert.Equal(3, TorchFunction.Compiles - before);
    }

    [Fact]
    public void A_shape_error_names_the_subexpression()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Dot(a, b) + 1.0;
        var jf = f.JitTorch(TorchBackend.Cpu);
        var e = Assert.ThrowsAny<ShapeException>(() => jf(new Tensor(new double[2, 3]), new Tensor(new double[4])));
        Assert.Contains("Dot(a, b)", e.Message);
        Assert.Contains("float64[2,3]", e.Message);
    }
}
