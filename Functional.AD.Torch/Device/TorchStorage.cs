using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// A tensor's elements held by a libtorch tensor on a device (<c>cpu</c> or <c>cuda:N</c>). Eager code that reads
/// the elements (<see cref="TensorStorage.HostSpan{T}"/>) copies them to host memory once and keeps that copy.
/// The storage owns its libtorch tensor: <see cref="Dispose"/> (or donation to a jitted call) frees it at once;
/// otherwise the finalizer of the libtorch handle frees it.
/// </summary>
/// <example><code>
/// var t = new Tensor(new[] { 1f, 2f }).ToDevice(TorchBackend.Cpu);
/// Console.WriteLine(t.Storage is TorchStorage);   // True: the data lives in a torch.Tensor
/// var back = t.ToHost();                          // ManagedStorage again
/// </code></example>
public sealed class TorchStorage : TensorStorage, IDisposable
{
    private TT? value;
    private Array? host;
    private readonly int length;
    private readonly DType dtype;

    /// <summary>Host-to-device copies made on this thread (jit inputs in host memory, <c>ToDevice</c>, imports from host).</summary>
    [ThreadStatic] internal static long HostToDevice;
    /// <summary>Device-to-host copies made on this thread (eager reads, <c>ToHost</c>, scalar reads).</summary>
    [ThreadStatic] internal static long DeviceToHost;

    /// <summary>Adopts <paramref name="value"/> (a float32 or float64 libtorch tensor); the storage owns it from now on.</summary>
    internal TorchStorage(TT value, TorchBackend backend)
    {
        this.value = value;
        Backend = backend;
        dtype = Lowerings.DTypeOf(value.dtype);
        length = checked((int)value.numel());
    }

    /// <summary>Adopts <paramref name="value"/>, whose dtype and element count the caller knows (no round trip to read them).</summary>
    internal TorchStorage(TT value, TorchBackend backend, DType dtype, int length)
    {
        this.value = value;
        Backend = backend;
        this.dtype = dtype;
        this.length = length;
    }

    /// <summary>The device the elements live on.</summary>
    public TorchBackend Backend { get; }

    /// <summary>Whether the libtorch tensor has been freed (disposed, donated or moved out).</summary>
    public bool IsDisposed => value is null;

    /// <inheritdoc/>
    public override DType DType => dtype;

    /// <inheritdoc/>
    public override int Length => length;

    /// <summary>The libtorch tensor (not a copy): callers must neither mutate nor dispose it.</summary>
    /// <exception cref="ObjectDisposedException">The storage was disposed or donated.</exception>
    internal TT Value => value ?? throw Disposed();

    /// <summary>Takes the libtorch tensor away (the storage is empty afterwards): the zero-copy export.</summary>
    internal TT Release()
    {
        var v = Value;
        value = null;
        return v;
    }

    internal ObjectDisposedException Disposed() => new(nameof(TorchStorage),
        $"this {DTypes.Name(dtype)} tensor on {Backend} was freed (disposed, donated to a jitted call, or moved out with MoveToTorch); " +
        "use the tensor the call returned instead.");

    /// <inheritdoc/>
    public override ReadOnlySpan<T> HostSpan<T>()
    {
        CheckType<T>();
        if (host is null)
        {
            var v = Value;
            using var scope = torch.NewDisposeScope();
            var c = v.device_type == DeviceType.CPU ? v.contiguous() : v.cpu().contiguous();
            Array a = HostCopy.Download(c, dtype);
            Interlocked.Increment(ref DeviceToHost);
            Interlocked.CompareExchange(ref host, a, null);
        }
        return (T[])host!;
    }

    /// <summary>Frees the libtorch tensor now. Reading the elements afterwards throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        var v = Interlocked.Exchange(ref value, null);
        v?.Dispose();
        host = null;
    }
}

/// <summary>Copies between host arrays and libtorch tensors for every dtype (halves through float32, exactly).</summary>
internal static class HostCopy
{
    /// <summary>The elements of a contiguous CPU tensor as a host array of <paramref name="dtype"/>'s storage type.</summary>
    internal static Array Download(TT c, DType dtype) => c.numel() == 0 ? Empty(dtype) : dtype switch
    {
        DType.Float64 => c.data<double>().ToArray(),
        DType.Float32 => c.data<float>().ToArray(),
        DType.Int32 => c.data<int>().ToArray(),
        DType.Int64 => c.data<long>().ToArray(),
        DType.Bool => c.data<bool>().ToArray(),
        // float16 and bfloat16 widen to float32 exactly, and narrow back exactly
        _ => Elements.Convert(c.to_type(torch.ScalarType.Float32).data<float>().ToArray(), DType.Float32, dtype),
    };

    /// <summary>An empty host array of <paramref name="dtype"/>'s storage type (TorchSharp's accessor cannot read an empty tensor).</summary>
    static Array Empty(DType dtype) => dtype switch
    {
        DType.Float64 => Array.Empty<double>(),
        DType.Float32 => Array.Empty<float>(),
        DType.Int32 => Array.Empty<int>(),
        DType.Int64 => Array.Empty<long>(),
        DType.Bool => Array.Empty<bool>(),
        _ => Elements.Convert(Array.Empty<float>(), DType.Float32, dtype),
    };

    /// <summary>A new libtorch tensor holding a copy of <paramref name="data"/> (of <paramref name="dtype"/>'s storage type).</summary>
    internal static TT Upload(Array data, long[] dims, DType dtype, torch.Device device) => dtype switch
    {
        DType.Float64 => torch.tensor((double[])data, dims, torch.ScalarType.Float64, device),
        DType.Float32 => torch.tensor((float[])data, dims, torch.ScalarType.Float32, device),
        DType.Int32 => torch.tensor((int[])data, dims, torch.ScalarType.Int32, device),
        DType.Int64 => torch.tensor((long[])data, dims, torch.ScalarType.Int64, device),
        DType.Bool => torch.tensor((bool[])data, dims, torch.ScalarType.Bool, device),
        _ => Widened(data, dims, dtype, device),
    };

    static TT Widened(Array data, long[] dims, DType dtype, torch.Device device)
    {
        using var wide = torch.tensor((float[])Elements.Convert(data, dtype, DType.Float32), dims, torch.ScalarType.Float32, device);
        return wide.to_type(Lowerings.ScalarOf(dtype));
    }
}
