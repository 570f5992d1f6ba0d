using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// Moving tensors and pytrees between host memory and Torch devices, and exchanging them with TorchSharp.
/// Example: <c>var p = Torch.ToDevice(params, TorchBackend.Cpu);</c> once before a training loop; the jitted step
/// then copies nothing between host and device.
/// </summary>
/// <example><code>
/// var p = TorchTensors.ToDevice(parameters, TorchBackend.Parse("cuda:0"));   // every leaf of a pytree
/// var onHost = TorchTensors.ToHost(p);
/// </code></example>
public static class TorchTensors
{
    /// <summary>The tensor on <paramref name="backend"/>: itself when it already lives there, else a copy.</summary>
    /// <param name="x">The tensor.</param>
    /// <param name="backend">The device.</param>
    /// <returns>A tensor whose storage is a <see cref="TorchStorage"/> on <paramref name="backend"/>.</returns>
    public static Tensor ToDevice(this Tensor x, TorchBackend backend)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(backend);
        if (x.Storage is TorchStorage ts && ts.Backend.Equals(backend) && !ts.IsDisposed) return x;
        return new Tensor(new TorchStorage(Upload(x, backend), backend), x.Dims, x.IsWeak);
    }

    /// <summary>Every tensor leaf of a pytree on <paramref name="backend"/> (see <see cref="ToDevice(Tensor, TorchBackend)"/>).</summary>
    /// <typeparam name="T">The pytree type (a record of tensors, a ValueTuple, ...).</typeparam>
    /// <param name="tree">The pytree.</param>
    /// <param name="backend">The device.</param>
    /// <returns>The same structure with its leaves on the device.</returns>
    public static T ToDevice<T>(T tree, TorchBackend backend) => Tree.Map(x => x.ToDevice(backend), tree);

    /// <summary>The tensor in host (managed) memory: itself when it is there, else a copy.</summary>
    /// <param name="x">The tensor.</param>
    /// <returns>A tensor whose storage is a <see cref="ManagedStorage"/>.</returns>
    public static Tensor ToHost(this Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Storage is not TorchStorage ts) return x;
        return Tensor.Adopt((Array)x.HostArray().Clone(), Aval.Intern(x.Dims, x.DType, x.IsWeak));
    }

    /// <summary>Every tensor leaf of a pytree in host memory.</summary>
    /// <typeparam name="T">The pytree type.</typeparam>
    /// <param name="tree">The pytree.</param>
    /// <returns>The same structure with host leaves.</returns>
    public static T ToHost<T>(T tree) => Tree.Map(x => x.ToHost(), tree);

    /// <summary>
    /// Frees the device memory of a tensor now (no-op for host tensors). The tensor must not be used afterwards.
    /// Jitted calls with donated arguments do this for you (see <see cref="TorchJit"/>).
    /// </summary>
    /// <param name="x">The tensor.</param>
    public static void DisposeDevice(this Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Storage is TorchStorage ts) ts.Dispose();
    }

    /// <summary>
    /// Imports a TorchSharp tensor (float32, float64, float16, bfloat16, int32, int64 or bool, any device), keeping its dtype. With <paramref name="takeOwnership"/> the tensor
    /// is adopted without a copy and the caller must neither use nor dispose it afterwards; otherwise it is copied on
    /// its device (never through the host), so later changes to it are not seen.
    /// </summary>
    /// <param name="t">The tensor.</param>
    /// <param name="takeOwnership">Whether the caller hands the tensor over (zero-copy).</param>
    /// <returns>A tensor on <paramref name="t"/>'s device.</returns>
    /// <exception cref="ArgumentException">The dtype has no Functional.AD dtype (uint8, int16, complex, ...); the message names it and how to convert it.</exception>
    public static Tensor FromTorch(TT t, bool takeOwnership = false)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.dtype is not (torch.ScalarType.Float32 or torch.ScalarType.Float64 or torch.ScalarType.Int32 or torch.ScalarType.Int64
            or torch.ScalarType.Bool or torch.ScalarType.Float16 or torch.ScalarType.BFloat16))
            throw new ArgumentException(
                $"Cannot import a torch tensor of dtype {t.dtype} (shape [{string.Join(",", t.shape)}]): Functional.AD tensors hold " +
                $"float32, float64, float16, bfloat16, int32, int64 or bool. Convert it first, e.g. t.to_type(torch.int64).", nameof(t));
        var dims = t.shape.Select(d => checked((int)d)).ToArray();
        var backend = TorchBackend.Of(t.device);
        TT own;
        if (takeOwnership) own = t;
        else
        {
            using var scope = torch.NewDisposeScope();
            own = t.detach().clone();
            scope.Detach(own);
        }
        if (takeOwnership) DetachFromAnyScope(own);
        return new Tensor(new TorchStorage(own, backend), dims);
    }

    /// <summary>
    /// A TorchSharp tensor with this tensor's values, for code written against TorchSharp: a copy on the same device
    /// (or an upload of a host tensor) that the caller owns and may mutate.
    /// </summary>
    /// <param name="x">The tensor.</param>
    /// <param name="backend">Where the result lives; the tensor's own device (or the CPU for host tensors) when null.</param>
    /// <returns>A fresh libtorch tensor owned by the caller.</returns>
    public static TT ToTorch(this Tensor x, TorchBackend? backend = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Storage is TorchStorage ts && (backend is null || ts.Backend.Equals(backend)))
            return ts.Value.clone();
        return Upload(x, backend ?? TorchBackend.Cpu);
    }

    /// <summary>
    /// Hands this tensor's libtorch tensor to the caller without a copy (the zero-copy export). The Functional.AD
    /// tensor is empty afterwards: reading it throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <param name="x">A tensor on a Torch device.</param>
    /// <returns>The libtorch tensor, now owned by the caller.</returns>
    /// <exception cref="ArgumentException">The tensor is in host memory (use <see cref="ToTorch"/>).</exception>
    public static TT MoveToTorch(this Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Storage is not TorchStorage ts)
            throw new ArgumentException($"MoveToTorch hands over device memory, but this {x.Aval} tensor is in host memory; use ToTorch() to copy it.", nameof(x));
        return ts.Release();
    }

    /// <summary>Copies a host (or other device's) tensor to <paramref name="backend"/>; the result belongs to no dispose scope.</summary>
    internal static TT Upload(Tensor x, TorchBackend backend)
    {
        var dims = x.Dims.Select(d => (long)d).ToArray();
        TT t;
        if (x.Storage is TorchStorage other)
        {
            using var scope = torch.NewDisposeScope();
            t = other.Value.to(backend.Device).clone();
            scope.Detach(t);
            return t;
        }
        using (var scope = torch.NewDisposeScope())
        {
            t = HostCopy.Upload(x.HostArray(), dims, x.DType, backend.Device);
            scope.Detach(t);
        }
        Interlocked.Increment(ref TorchStorage.HostToDevice);
        return t;
    }

    static void DetachFromAnyScope(TT t)
    {
        // a tensor the caller created inside its own dispose scope would be freed when that scope ends
        t.DetachFromDisposeScope();
    }
}
