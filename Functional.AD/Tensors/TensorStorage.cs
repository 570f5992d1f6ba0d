using System.Runtime.InteropServices;

namespace Functional.AD;

/// <summary>
/// Where a tensor's elements live. <see cref="ManagedStorage"/> holds a managed array; a backend
/// (for example Torch) subclasses this to keep data on a device, and eager operations reach the
/// elements through <see cref="HostSpan{T}"/>, which may copy them to host memory once.
/// Storage is immutable: no operation writes into an existing storage.
/// </summary>
/// <example><code>
/// var t = new Tensor(new ManagedStorage(new float[] { 1, 2, 3, 4 }), [2, 2]);
/// ReadOnlySpan&lt;float&gt; host = t.Storage.HostSpan&lt;float&gt;();    // a device storage copies to the host here
/// </code></example>
public abstract class TensorStorage
{
    /// <summary>The element type.</summary>
    public abstract DType DType { get; }

    /// <summary>The number of elements.</summary>
    public abstract int Length { get; }

    /// <summary>
    /// The elements in row-major order, in host memory. <typeparamref name="T"/> must be the CLR type
    /// of <see cref="DType"/> (<see cref="float"/> or <see cref="double"/>). The span must not be written.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/> for Float32, <see cref="double"/> for Float64.</typeparam>
    /// <returns>A read-only view of all <see cref="Length"/> elements.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> does not match <see cref="DType"/>.</exception>
    public abstract ReadOnlySpan<T> HostSpan<T>() where T : unmanaged;

    /// <summary>Throws unless <typeparamref name="T"/> is the CLR type of <see cref="DType"/>.</summary>
    /// <typeparam name="T">The requested element type.</typeparam>
    protected void CheckType<T>() where T : unmanaged
    {
        if (DTypes.Of<T>() != DType)
            throw new InvalidOperationException($"storage holds {DTypes.Name(DType)} elements, not {typeof(T).Name}");
    }
}

/// <summary>
/// Storage in a managed array (<see cref="float"/>[] for Float32, <see cref="double"/>[] for Float64). A tensor in host
/// memory holds its array directly; this class is the view of it that <see cref="Tensor.Storage"/> gives, and a way to
/// hand an array to <see cref="Tensor(TensorStorage, int[], bool)"/> without a copy.
/// </summary>
/// <example><code>
/// var storage = new ManagedStorage(new double[] { 1, 2, 3 });
/// var t = new Tensor(storage, [3]);          // float64 [3], sharing the array
/// </code></example>
public sealed class ManagedStorage : TensorStorage
{
    private readonly Array data;
    private readonly DType dtype;

    /// <summary>Wraps (does not copy) a float32 array; the caller gives up the right to mutate it.</summary>
    /// <param name="data">The elements.</param>
    public ManagedStorage(float[] data) : this(data ?? throw new ArgumentNullException(nameof(data)), DType.Float32) { }

    /// <summary>Wraps (does not copy) a float64 array; the caller gives up the right to mutate it.</summary>
    /// <param name="data">The elements.</param>
    public ManagedStorage(double[] data) : this(data ?? throw new ArgumentNullException(nameof(data)), DType.Float64) { }

    /// <summary>Wraps an array whose element type is <paramref name="dtype"/>'s storage type (not checked).</summary>
    internal ManagedStorage(Array data, DType dtype)
    {
        this.data = data;
        this.dtype = dtype;
    }

    /// <inheritdoc/>
    public override DType DType => dtype;

    /// <inheritdoc/>
    public override int Length => data.Length;

    /// <summary>The underlying array, not copied.</summary>
    internal Array Data => data;

    /// <inheritdoc/>
    public override ReadOnlySpan<T> HostSpan<T>()
    {
        if (data is T[] a) return a;
        CheckType<T>();
        throw new InvalidOperationException("unreachable");
    }
}
