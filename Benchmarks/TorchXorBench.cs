using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using Functional.AD.Torch;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Benchmarks;

/// <summary>
/// One XOR training step (loss gradient for one example, then SGD with learning rate 1) on the Torch backend, float32,
/// one libtorch thread, parameters and the example already on the device: <c>(p, x, y) => sgd(p, grad(p, x, y))</c>
/// jitted with <c>JitTorch(cpu, donate: 0)</c> (the old parameters freed by the call) against the same step written by
/// hand in TorchSharp eager autograd (<c>torch.autograd.grad</c> in a dispose scope, then an in-place update under
/// <c>no_grad</c>, as an optimizer does). Interleaved rounds, as in <see cref="SmallCalls"/>.
/// </summary>
[MemoryDiagnoser, MinColumn]
public class TorchXorStep
{
    /// <summary>The round (see <see cref="SmallCalls"/>).</summary>
    [Params(1, 2, 3, 4, 5)] public int Round;

    Func<XorParams, Tensor, Tensor, XorParams> step = null!;
    XorParams p = null!;
    Tensor x = null!, y = null!;
    TT[] tp = null!;
    TT tx = null!, ty = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        var cpu = TorchBackend.Cpu;
        var sgd = Optim.Sgd<XorParams>(1.0);
        var grad = Ad.Grad(XorModel.Loss);
        Expression<Func<XorParams, Tensor, Tensor, XorParams>> train = (q, a, b) => sgd.Invoke(q, grad.Invoke(q, a, b));
        step = train.JitTorch(cpu, 0);
        var init = XorModel.Init();
        p = TorchTensors.ToDevice(init, cpu);
        x = new Tensor(new float[] { 0, 1 }).ToDevice(cpu);
        y = Tensor.Scalar(1, DType.Float32).ToDevice(cpu);
        tp = Functional.AD.Tree.Leaves(init).Select(t => t.ToTorch().requires_grad_(true)).ToArray();
        tx = x.ToTorch();
        ty = y.ToTorch();
        // both take the same first step
        var ours = Functional.AD.Tree.Leaves(TorchTensors.ToHost(step(TorchTensors.ToDevice(init, cpu), x, y))).ToArray();
        Eager();
        for (int i = 0; i < 4; i++)
            if (!ours[i].AllClose(TorchTensors.FromTorch(tp[i].detach()).ToHost(), 1e-4, 1e-6))
                throw new InvalidOperationException("the jitted Torch step differs from the TorchSharp eager one");
        tp = Functional.AD.Tree.Leaves(init).Select(t => t.ToTorch().requires_grad_(true)).ToArray();
    }

    /// <summary>The step in TorchSharp eager autograd, updating the parameters in place.</summary>
    [Benchmark(Baseline = true, Description = "TorchSharp eager autograd + in-place SGD, by hand")]
    public int Eager()
    {
        using (var scope = torch.NewDisposeScope())
        {
            var h = torch.mv(tp[0], tx).add(tp[1]).tanh();
            var o = torch.dot(tp[2], h).add(tp[3]).sigmoid();
            var l = -ty * o.log() - (1 - ty) * (1 - o).log();
            var g = torch.autograd.grad([l], tp);
            using (torch.no_grad())
                for (int i = 0; i < 4; i++) tp[i].sub_(g[i]);
        }
        return 4;
    }

    /// <summary><c>JitTorch(cpu, donate: 0)</c> of the SGD step; the parameters stay on the device.</summary>
    [Benchmark(Description = "(p, x, y) => sgd(p, grad(p, x, y)), JitTorch(cpu, donate: 0)")]
    public int Jitted()
    {
        p = step(p, x, y);
        return 4;
    }
}
