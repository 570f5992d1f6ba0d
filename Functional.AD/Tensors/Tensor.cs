using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Functional.AD;

/// <summary>
/// An immutable, row-major, dense n-dimensional array of <see cref="float"/> or <see cref="double"/>,
/// like a numpy/JAX array. Operators broadcast as numpy does and delegate to <see cref="Np"/>; dtypes
/// promote as in JAX (a C# <see cref="double"/> literal is weakly typed, so <c>x * 2.0</c> keeps x's dtype).
/// <c>==</c> and <c>!=</c> keep reference semantics; use <see cref="Np.Equal"/> or <see cref="AllClose"/>.
/// Example: <c>new Tensor(new[,] { { 1f, 2f }, { 3f, 4f } }) * 2.0</c> is <c>Tensor([[2., 4.], [6., 8.]], dtype=float32)</c>.
/// </summary>
/// <example><code>
/// var a = new Tensor(new float[,] { { 1, 2 }, { 3, 4 } });      // float32 [2,2]
/// var b = new Tensor(new[] { 0.5, -1.0 });                      // float64 [2]
/// var c = (a * 2 + 1).AsType(DType.Float64) + b;               // broadcasting, promotion to float64
/// Console.WriteLine(c);                                         // the values, shape and dtype
/// double first = c[0, 0];
/// </code></example>
public sealed partial class Tensor
{
    /// <summary>
    /// The elements: a managed array whose element type is the dtype's storage type (<see cref="float"/>[] for
    /// Float32, <see cref="double"/>[] for Float64), or a <see cref="TensorStorage"/> of a device backend. A managed
    /// tensor is this one object and its array: no storage wrapper, no shape array of its own.
    /// </summary>
    private readonly object data;

    /// <summary>The shape, dtype and weak flag: the interned aval (shared by every tensor of that shape and dtype).</summary>
    private readonly Aval aval;

    /// <summary>
    /// For a weak scalar made from a C# double: the exact value, so promoting it to float64 does not
    /// round through float32 (JAX converts Python scalars at the other operand's precision).
    /// </summary>
    internal double? ExactScalar => data is WeakScalar w ? w.Exact : null;

    /// <summary>
    /// The data of a weak scalar made from a C# double: the exact double, and its float32 value as a one-element array
    /// made when first read. Only these tensors pay for the exact value; every other tensor is two fields.
    /// </summary>
    sealed class WeakScalar(double exact)
    {
        public readonly double Exact = exact;
        float[]? values;
        public float[] Values => values ??= [(float)Exact];
    }

    /// <summary>A tensor adopting <paramref name="data"/> with an aval already checked to fit it (the jit's results).</summary>
    internal Tensor(Array data, Aval aval)
    {
        this.data = data;
        this.aval = aval;
    }

    private Tensor(object data, Aval aval, double unused)
    {
        _ = unused;
        this.data = data;
        this.aval = aval;
    }

    /// <summary>
    /// A weakly typed float32 scalar (rank 0), as JAX treats a Python float: it takes the dtype of what it is
    /// combined with. The exact double is remembered, so combined with float64 data, and read back through
    /// <c>(double)</c> or <see cref="Item"/>, it is not rounded to float32; its data (<see cref="ToDoubleArray"/>) is float32.
    /// </summary>
    /// <param name="value">The value.</param>
    public Tensor(double value) : this(new WeakScalar(value), WeakFloat32, 0)
    {
    }

    static readonly Aval WeakFloat32 = Aval.Intern([], DType.Float32, true);

    /// <summary>A float64 vector; the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(double[] data) : this(Copy(data), Aval.Intern([data.Length], DType.Float64, false), double.NaN) { }

    /// <summary>A float64 matrix; the data is copied.</summary>
    /// <param name="data">The elements, <c>data[i, j]</c> at row i, column j.</param>
    public Tensor(double[,] data) : this(Flatten<double>(NotNull(data)), Aval.Intern(DimsOf(data), DType.Float64, false), double.NaN) { }

    /// <summary>A float64 rank-3 tensor; the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(double[,,] data) : this(Flatten<double>(NotNull(data)), Aval.Intern(DimsOf(data), DType.Float64, false), double.NaN) { }

    /// <summary>A float32 vector; the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(float[] data) : this(Copy(data), Aval.Intern([data.Length], DType.Float32, false), double.NaN) { }

    /// <summary>A float32 matrix; the data is copied.</summary>
    /// <param name="data">The elements, <c>data[i, j]</c> at row i, column j.</param>
    public Tensor(float[,] data) : this(Flatten<float>(NotNull(data)), Aval.Intern(DimsOf(data), DType.Float32, false), double.NaN) { }

    /// <summary>A float32 rank-3 tensor; the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(float[,,] data) : this(Flatten<float>(NotNull(data)), Aval.Intern(DimsOf(data), DType.Float32, false), double.NaN) { }

    /// <summary>A float32 tensor of any shape from row-major data; the data is copied.</summary>
    /// <param name="data">The elements in row-major order; its length must be the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions.</param>
    public Tensor(float[] data, int[] shape) : this(Copy(data), Fit(NotNull(shape, nameof(shape)), DType.Float32, false, data.Length), double.NaN) { }

    /// <summary>A float64 tensor of any shape from row-major data; the data is copied.</summary>
    /// <param name="data">The elements in row-major order; its length must be the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions.</param>
    public Tensor(double[] data, int[] shape) : this(Copy(data), Fit(NotNull(shape, nameof(shape)), DType.Float64, false, data.Length), double.NaN) { }

    /// <summary>An int32 vector; the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(int[] data) : this(Copy(data), Aval.Intern([data.Length], DType.Int32, false), double.NaN) { }

    /// <summary>An int32 tensor of any shape from row-major data; the data is copied.</summary>
    /// <param name="data">The elements in row-major order; its length must be the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions.</param>
    public Tensor(int[] data, int[] shape) : this(Copy(data), Fit(NotNull(shape, nameof(shape)), DType.Int32, false, data.Length), double.NaN) { }

    /// <summary>An int64 vector; the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(long[] data) : this(Copy(data), Aval.Intern([data.Length], DType.Int64, false), double.NaN) { }

    /// <summary>An int64 tensor of any shape from row-major data; the data is copied.</summary>
    /// <param name="data">The elements in row-major order; its length must be the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions.</param>
    public Tensor(long[] data, int[] shape) : this(Copy(data), Fit(NotNull(shape, nameof(shape)), DType.Int64, false, data.Length), double.NaN) { }

    /// <summary>A bool vector (a mask); the data is copied.</summary>
    /// <param name="data">The elements.</param>
    public Tensor(bool[] data) : this(Copy(data), Aval.Intern([data.Length], DType.Bool, false), double.NaN) { }

    /// <summary>A bool tensor of any shape from row-major data; the data is copied.</summary>
    /// <param name="data">The elements in row-major order; its length must be the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions.</param>
    public Tensor(bool[] data, int[] shape) : this(Copy(data), Fit(NotNull(shape, nameof(shape)), DType.Bool, false, data.Length), double.NaN) { }

    /// <summary>A float16 tensor of any shape from row-major data (the shape defaults to a vector); the data is copied.</summary>
    /// <param name="data">The elements in row-major order.</param>
    /// <param name="shape">The dimensions, or null for a vector.</param>
    public Tensor(Half[] data, int[]? shape = null) : this(Copy(data), Fit(shape ?? [NotNull(data).Length], DType.Float16, false, data.Length), double.NaN) { }

    /// <summary>A bfloat16 tensor of any shape from row-major data (the shape defaults to a vector); the data is copied.</summary>
    /// <param name="data">The elements in row-major order.</param>
    /// <param name="shape">The dimensions, or null for a vector.</param>
    public Tensor(BFloat16[] data, int[]? shape = null) : this(Copy(data), Fit(shape ?? [NotNull(data).Length], DType.BFloat16, false, data.Length), double.NaN) { }

    /// <summary>
    /// A tensor on any storage (for backends such as Torch). A <see cref="ManagedStorage"/> is unwrapped: the tensor
    /// holds its array, not the storage object.
    /// </summary>
    /// <param name="storage">The elements; <see cref="TensorStorage.Length"/> must be the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions; copied.</param>
    /// <param name="weak">Whether the tensor is weakly typed.</param>
    public Tensor(TensorStorage storage, int[] shape, bool weak = false)
        : this(Unwrap(NotNull(storage, nameof(storage))), Fit(NotNull(shape, nameof(shape)), storage.DType, weak, storage.Length), double.NaN) { }

    static object Unwrap(TensorStorage s) => s is ManagedStorage m ? m.Data : s;

    static T[] Copy<T>(T[]? data) => (T[])NotNull(data).Clone();

    /// <summary>The interned aval of <paramref name="dims"/>, checked to hold <paramref name="length"/> elements.</summary>
    static Aval Fit(int[] dims, DType dtype, bool weak, int length)
    {
        var a = Aval.Intern(dims, dtype, weak);
        if (a.Size != length)
            throw new ArgumentException($"shape [{string.Join(",", dims)}] holds {a.Size} elements but the data has {length}; give a shape whose product is {length}", "shape");
        return a;
    }

    static T NotNull<T>(T? value, string name = "data") where T : class =>
        value ?? throw new ArgumentNullException(name, $"new Tensor(...): {name} is null; pass an array of the elements (for no elements, an empty array).");

    /// <summary>
    /// A rank-0 tensor of the given dtype, not weakly typed unless <paramref name="weak"/>: converted as C#'s explicit
    /// conversions do (to an integer: truncated; to bool: non-zero is true). A weak scalar takes the dtype of what it is
    /// combined with (<c>Tensor.Scalar(1, DType.Int32, weak: true)</c> is JAX's Python int).
    /// Example: <c>Tensor.Scalar(1.5, DType.Float64)</c>.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <param name="dtype">The dtype.</param>
    /// <param name="weak">Whether the scalar is weakly typed.</param>
    /// <returns>The scalar.</returns>
    public static Tensor Scalar(double value, DType dtype, bool weak = false) =>
        new(Elements.FromDoubles([value], DTypes.Check(dtype, "Tensor.Scalar")), Aval.Intern([], dtype, weak));

    /// <summary>
    /// A tensor from a .NET array of any rank (<c>float[,,,]</c>, <c>double[]</c>, <c>int[,]</c>, <c>bool[]</c>, ...).
    /// The dtype defaults to the array's: float32, float64, int32, int64, bool, float16 (<see cref="Half"/>) or
    /// bfloat16 (<see cref="BFloat16"/>); other integer types (short, byte, ...) become int32 (uint and ulong int64). Example: <c>Tensor.FromArray(new double[2, 3, 4, 5])</c> has shape [2,3,4,5].
    /// </summary>
    /// <param name="a">The array; copied.</param>
    /// <param name="dtype">The dtype to store, or <c>null</c> for the array's own.</param>
    /// <returns>A tensor whose shape is the array's dimensions.</returns>
    public static Tensor FromArray(Array a, DType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        var d = new int[a.Rank];
        for (int i = 0; i < d.Length; i++) d[i] = a.GetLength(i);
        var elem = a.GetType().GetElementType()!;
        if (DTypes.OfType(elem) is DType own)
        {
            var flat = Array.CreateInstance(elem, a.Length);
            CopyBytes(a, flat, DTypes.ItemSize(own));
            var target = dtype is DType t ? DTypes.Check(t, "Tensor.FromArray") : own;
            var data = target == own ? flat : Elements.Convert(flat, own, target);
            return new Tensor(data, Fit(d, target, false, data.Length), double.NaN);
        }
        if (!elem.IsPrimitive || elem == typeof(char))
            throw new ArgumentException($"Tensor.FromArray takes a rectangular array of numbers or bools (float[,], double[], int[,,], bool[], Half[], ...), not {a.GetType().Name}", nameof(a));
        var values = new double[a.Length];
        int k = 0;
        foreach (var v in a) values[k++] = System.Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture);
        var to = dtype is DType dt ? DTypes.Check(dt, "Tensor.FromArray") : elem == typeof(ulong) || elem == typeof(uint) ? DType.Int64 : DType.Int32;
        var conv = Elements.FromDoubles(values, to);
        return new Tensor(conv, Fit(d, to, false, conv.Length), double.NaN);
    }

    /// <summary>Adopts an array as a tensor's storage without copying; the caller must never mutate it afterwards.</summary>
    internal static Tensor Adopt<T>(T[] data, int[] dims, bool weak = false) where T : unmanaged =>
        new(data, Fit(dims, DTypes.Of<T>(), weak, data.Length), double.NaN);

    /// <summary>A tensor on a backend's device storage whose dtype and length are <paramref name="aval"/>'s (not checked).</summary>
    internal static Tensor OnDevice(TensorStorage storage, Aval aval) => new(storage, aval.Canonical, double.NaN);

    /// <summary>Adopts an array whose length is <paramref name="aval"/>'s size and whose type is its dtype's (not checked).</summary>
    internal static Tensor Adopt(Array data, Aval aval) => new(data, aval.Canonical);

    /// <summary>The dimensions, outermost first (row-major).</summary>
    public IReadOnlyList<int> Shape => aval.Shape;

    /// <summary>The dimensions, not copied: callers must not mutate.</summary>
    internal int[] Dims => aval.Dims;

    /// <summary>The number of axes.</summary>
    public int Rank => aval.Rank;

    /// <summary>The number of elements.</summary>
    public int Size => aval.Size;

    /// <summary>The element type.</summary>
    public DType DType => aval.DType;

    /// <summary>Whether the tensor is weakly typed (see <see cref="Aval.Weak"/>): a scalar written as a C# double literal.</summary>
    public bool IsWeak => aval.Weak;

    /// <summary>
    /// Where the elements live: the device storage of a backend's tensor, or for a tensor in host memory a
    /// <see cref="ManagedStorage"/> view of its array (made on each read; the tensor itself holds only the array).
    /// </summary>
    public TensorStorage Storage => data as TensorStorage ?? new ManagedStorage(Managed!, aval.DType);

    /// <summary>The managed array holding the elements, the device storage, or a weak scalar's exact value (not to be written).</summary>
    internal object Data => data;

    /// <summary>The managed array holding the elements (not to be written), or null for a device tensor.</summary>
    internal Array? Managed => data as Array ?? (data as WeakScalar)?.Values;

    /// <summary>The abstract value: shape, dtype and weak flag (interned: one object per combination).</summary>
    public Aval Aval => aval;

    /// <summary>The elements in host memory (not to be written).</summary>
    internal ReadOnlySpan<T> Span<T>() where T : unmanaged => data is T[] a ? a : HostSpan<T>();

    ReadOnlySpan<T> HostSpan<T>() where T : unmanaged => data is TensorStorage s ? s.HostSpan<T>()
        : data is WeakScalar w && w.Values is T[] v ? v
        : throw new InvalidOperationException($"the tensor holds {DTypes.Name(DType)} elements, not {typeof(T).Name}");

    /// <summary>All elements, row-major, as a fresh float64 array (bool: 0 and 1).</summary>
    /// <returns>A copy of the data, converted to double.</returns>
    public double[] ToDoubleArray() =>
        DType == DType.Float64 ? Span<double>().ToArray()
        : DType == DType.Float32 ? Kernels.Convert<float, double>(Span<float>())
        : Elements.ToDoubles(HostArray(), DType);

    /// <summary>All elements, row-major, as a fresh float32 array (float64 data is rounded).</summary>
    /// <returns>A copy of the data, converted to float.</returns>
    public float[] ToFloatArray() =>
        DType == DType.Float32 ? Span<float>().ToArray() : (float[])Elements.Convert(HostArray(), DType, DType.Float32);

    /// <summary>
    /// All elements, row-major, as a fresh array of <typeparamref name="T"/> (float, double, int, long, bool,
    /// <see cref="Half"/> or <see cref="BFloat16"/>), converted as <see cref="AsType"/> converts when the dtype differs.
    /// Example: <c>Np.Argmax(logits, axis: 1).ToArray&lt;int&gt;()</c>.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <returns>A copy of the data.</returns>
    public T[] ToArray<T>() where T : unmanaged
    {
        var want = DTypes.Of<T>();
        if (want == DType) return Span<T>().ToArray();
        if (want == DType.Float64) return (T[])(object)ToDoubleArray();
        return (T[])Elements.Convert(HostArray(), DType, want);
    }

    /// <summary>The elements as a host array of the dtype's storage type (not to be written; a device tensor copies).</summary>
    internal Array HostArray()
    {
        if (Managed is { } m) return m;
        var s = (TensorStorage)data;
        return DType switch
        {
            DType.Float64 => s.HostSpan<double>().ToArray(),
            DType.Float32 => s.HostSpan<float>().ToArray(),
            DType.Int32 => s.HostSpan<int>().ToArray(),
            DType.Int64 => s.HostSpan<long>().ToArray(),
            DType.Bool => s.HostSpan<bool>().ToArray(),
            DType.Float16 => s.HostSpan<Half>().ToArray(),
            _ => s.HostSpan<BFloat16>().ToArray(),
        };
    }

    /// <summary>
    /// The data as a fresh .NET array of matching rank and element type: <c>float[,]</c> for a float32
    /// matrix, <c>double[,,]</c> for a float64 rank-3 tensor, <c>int[]</c> for int32 labels. A rank-0 tensor gives a
    /// one-element one-dimensional array.
    /// </summary>
    /// <returns>A copy of the data.</returns>
    public Array ToArray()
    {
        var elem = DTypes.ClrType(DType);
        var arr = Rank == 0 ? Array.CreateInstance(elem, 1) : Array.CreateInstance(elem, Dims);
        CopyBytes(HostArray(), arr, DTypes.ItemSize(DType));
        return arr;
    }

    /// <summary>Copies all elements of <paramref name="src"/> into <paramref name="dst"/> (same element type, any ranks).</summary>
    static void CopyBytes(Array src, Array dst, int itemSize)
    {
        var from = MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(src), src.Length * itemSize);
        from.CopyTo(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(dst), dst.Length * itemSize));
    }

    /// <summary>
    /// One element as a double (bool: 0 or 1), numpy's <c>x.item(i, j)</c>. Negative indices count from the end, as in
    /// numpy. The tensor indexer <c>x[i, j]</c> gives the same element as a rank-0 tensor (and slices; see <see cref="Ix"/>).
    /// Example: <c>new Tensor(new[,] { { 1.0, 2.0 }, { 3.0, 4.0 } }).Item(1, 0) == 3.0</c>.
    /// </summary>
    /// <param name="index">One index per axis.</param>
    /// <returns>The element.</returns>
    /// <exception cref="ArgumentException">The number of indices is not the rank.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside <c>-n .. n - 1</c> for its axis.</exception>
    public double Item(params int[] index)
    {
        ArgumentNullException.ThrowIfNull(index);
        {
            if (index.Length != Rank)
                throw new ArgumentException($"a tensor of shape {Aval} takes {Rank} indices, got {index.Length}", nameof(index));
            int flat = 0;
            var dims = Dims;
            for (int i = 0; i < index.Length; i++)
            {
                int k = index[i] < 0 ? index[i] + dims[i] : index[i];
                if ((uint)k >= (uint)dims[i])
                    throw new ArgumentOutOfRangeException(nameof(index), $"index {index[i]} is out of range for axis {i} of size {dims[i]} (shape {Aval}); accepted indices are {-dims[i]} .. {dims[i] - 1}");
                flat = flat * dims[i] + k;
            }
            return Element(flat);
        }
    }

    /// <summary>The element at a flat row-major index, as a double.</summary>
    internal double Element(int flat) => DType switch
    {
        DType.Float64 => Span<double>()[flat],
        DType.Float32 => ExactScalar ?? Span<float>()[flat],
        DType.Int32 => Span<int>()[flat],
        DType.Int64 => Span<long>()[flat],
        DType.Bool => Span<bool>()[flat] ? 1 : 0,
        DType.Float16 => (double)Span<Half>()[flat],
        _ => (double)Span<BFloat16>()[flat],
    };

    /// <summary>The same values with another dtype (not weak); returns this tensor when nothing changes.</summary>
    /// <param name="dtype">The target dtype.</param>
    /// <returns>The converted tensor.</returns>
    public Tensor AsType(DType dtype) => Lax.Cast(this, dtype);

    /// <summary>The value of a rank-0 tensor.</summary>
    /// <param name="t">A rank-0 tensor.</param>
    /// <exception cref="InvalidOperationException">The tensor is not rank 0; the message names its shape.</exception>
    public static explicit operator double(Tensor t)
    {
        if (t.Rank != 0) throw ShapeException.Of("(double)t", "only a rank-0 tensor converts to double; reduce it first (Np.Sum) or reshape it to [] (Np.Reshape(x, []))", ("t", t.Aval));
        return t.Element(0);
    }

    /// <summary>A C# double becomes a weakly typed float32 scalar, like a Python float in JAX.</summary>
    /// <param name="v">The value.</param>
    public static implicit operator Tensor(double v) => new(v);

    /// <summary>Elementwise sum with broadcasting: <see cref="Np.Add"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a + b</c>.</returns>
    public static Tensor operator +(Tensor a, Tensor b) => Np.Add(a, b);
    /// <summary>Adds a weakly typed scalar: <see cref="Np.Add"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a + b</c>.</returns>
    public static Tensor operator +(Tensor a, double b) => Np.Add(a, new Tensor(b));
    /// <summary>Adds to a weakly typed scalar: <see cref="Np.Add"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a + b</c>.</returns>
    public static Tensor operator +(double a, Tensor b) => Np.Add(new Tensor(a), b);

    /// <summary>Elementwise difference with broadcasting: <see cref="Np.Sub"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a - b</c>.</returns>
    public static Tensor operator -(Tensor a, Tensor b) => Np.Sub(a, b);
    /// <summary>Subtracts a weakly typed scalar: <see cref="Np.Sub"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a - b</c>.</returns>
    public static Tensor operator -(Tensor a, double b) => Np.Sub(a, new Tensor(b));
    /// <summary>Subtracts from a weakly typed scalar: <see cref="Np.Sub"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a - b</c>.</returns>
    public static Tensor operator -(double a, Tensor b) => Np.Sub(new Tensor(a), b);

    /// <summary>Elementwise product with broadcasting: <see cref="Np.Mul"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a * b</c>.</returns>
    public static Tensor operator *(Tensor a, Tensor b) => Np.Mul(a, b);
    /// <summary>Multiplies by a weakly typed scalar: <see cref="Np.Mul"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a * b</c>.</returns>
    public static Tensor operator *(Tensor a, double b) => Np.Mul(a, new Tensor(b));
    /// <summary>Multiplies a weakly typed scalar: <see cref="Np.Mul"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a * b</c>.</returns>
    public static Tensor operator *(double a, Tensor b) => Np.Mul(new Tensor(a), b);

    /// <summary>Elementwise quotient with broadcasting: <see cref="Np.Div"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a / b</c>.</returns>
    public static Tensor operator /(Tensor a, Tensor b) => Np.Div(a, b);
    /// <summary>Divides by a weakly typed scalar: <see cref="Np.Div"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a / b</c>.</returns>
    public static Tensor operator /(Tensor a, double b) => Np.Div(a, new Tensor(b));
    /// <summary>Divides a weakly typed scalar: <see cref="Np.Div"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a / b</c>.</returns>
    public static Tensor operator /(double a, Tensor b) => Np.Div(new Tensor(a), b);

    /// <summary>C#'s remainder with broadcasting: <see cref="Np.Remainder"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a % b</c>.</returns>
    public static Tensor operator %(Tensor a, Tensor b) => Np.Remainder(a, b);
    /// <summary>The remainder by a weakly typed scalar: <see cref="Np.Remainder"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns><c>a % b</c>.</returns>
    public static Tensor operator %(Tensor a, double b) => Np.Remainder(a, new Tensor(b));

    /// <summary>Elementwise logical and of masks: <see cref="Np.LogicalAnd"/>.</summary>
    /// <param name="a">Left mask.</param><param name="b">Right mask.</param><returns><c>a &amp; b</c>, a bool tensor.</returns>
    public static Tensor operator &(Tensor a, Tensor b) => Np.LogicalAnd(a, b);
    /// <summary>Elementwise logical or of masks: <see cref="Np.LogicalOr"/>.</summary>
    /// <param name="a">Left mask.</param><param name="b">Right mask.</param><returns><c>a | b</c>, a bool tensor.</returns>
    public static Tensor operator |(Tensor a, Tensor b) => Np.LogicalOr(a, b);
    /// <summary>Elementwise logical not of a mask: <see cref="Np.LogicalNot"/>.</summary>
    /// <param name="x">The mask.</param><returns><c>!x</c>, a bool tensor.</returns>
    public static Tensor operator !(Tensor x) => Np.LogicalNot(x);

    /// <summary>Elementwise negation: <see cref="Np.Neg"/>.</summary>
    /// <param name="x">The operand.</param><returns><c>-x</c>.</returns>
    public static Tensor operator -(Tensor x) => Np.Neg(x);

    /// <summary>The bool mask of <c>a &lt; b</c>: <see cref="Np.Less"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask, a bool tensor.</returns>
    public static Tensor operator <(Tensor a, Tensor b) => Np.Less(a, b);
    /// <summary>Mask of <c>a &lt; b</c> against a weakly typed scalar.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator <(Tensor a, double b) => Np.Less(a, new Tensor(b));
    /// <summary>Mask of <c>a &lt; b</c> for a weakly typed scalar a.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator <(double a, Tensor b) => Np.Less(new Tensor(a), b);

    /// <summary>The bool mask of <c>a &gt; b</c>: <see cref="Np.Greater"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask, a bool tensor.</returns>
    public static Tensor operator >(Tensor a, Tensor b) => Np.Greater(a, b);
    /// <summary>Mask of <c>a &gt; b</c> against a weakly typed scalar.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator >(Tensor a, double b) => Np.Greater(a, new Tensor(b));
    /// <summary>Mask of <c>a &gt; b</c> for a weakly typed scalar a.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator >(double a, Tensor b) => Np.Greater(new Tensor(a), b);

    /// <summary>The bool mask of <c>a &lt;= b</c>: <see cref="Np.LessEqual"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask, a bool tensor.</returns>
    public static Tensor operator <=(Tensor a, Tensor b) => Np.LessEqual(a, b);
    /// <summary>Mask of <c>a &lt;= b</c> against a weakly typed scalar.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator <=(Tensor a, double b) => Np.LessEqual(a, new Tensor(b));
    /// <summary>Mask of <c>a &lt;= b</c> for a weakly typed scalar a.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator <=(double a, Tensor b) => Np.LessEqual(new Tensor(a), b);

    /// <summary>The bool mask of <c>a &gt;= b</c>: <see cref="Np.GreaterEqual"/>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask, a bool tensor.</returns>
    public static Tensor operator >=(Tensor a, Tensor b) => Np.GreaterEqual(a, b);
    /// <summary>Mask of <c>a &gt;= b</c> against a weakly typed scalar.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator >=(Tensor a, double b) => Np.GreaterEqual(a, new Tensor(b));
    /// <summary>Mask of <c>a &gt;= b</c> for a weakly typed scalar a.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The mask.</returns>
    public static Tensor operator >=(double a, Tensor b) => Np.GreaterEqual(new Tensor(a), b);

    /// <summary>
    /// Whether the shapes are identical and every pair of elements satisfies
    /// <c>|a - b| &lt;= atol + rtol * |b|</c> (numpy's <c>allclose</c> with <c>b = other</c>). NaN is close to NaN;
    /// infinities are close only to the same infinity. Dtypes may differ (compared in double).
    /// </summary>
    /// <param name="other">The tensor to compare with.</param>
    /// <param name="rtol">Relative tolerance.</param>
    /// <param name="atol">Absolute tolerance.</param>
    /// <returns><c>true</c> when all elements are close.</returns>
    public bool AllClose(Tensor other, double rtol = 1e-5, double atol = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!SmallArrays.Same(Dims, other.Dims)) return false;
        var a = ToDoubleArray();
        var b = other.ToDoubleArray();
        for (int i = 0; i < a.Length; i++)
        {
            double x = a[i], y = b[i];
            if (double.IsNaN(x) || double.IsNaN(y)) { if (double.IsNaN(x) && double.IsNaN(y)) continue; return false; }
            if (x == y) continue;
            if (double.IsInfinity(x) || double.IsInfinity(y)) return false;
            if (!(Math.Abs(x - y) <= atol + rtol * Math.Abs(y))) return false;
        }
        return true;
    }

    /// <summary>
    /// numpy-style repr: <c>Tensor([[1., 2.],\n        [3., 4.]], dtype=float32)</c>; rank 0:
    /// <c>Tensor(1.5, dtype=float64)</c>; a weak tensor adds <c>, weak_type=True</c> as JAX does.
    /// Tensors of more than 1000 elements are summarised with <c>...</c>.
    /// </summary>
    /// <returns>The printed tensor.</returns>
    public override string ToString() => TensorFormat.Repr(this);

    internal static int[] DimsOf(Array a)
    {
        var d = new int[a.Rank];
        for (int i = 0; i < d.Length; i++) d[i] = a.GetLength(i);
        return d;
    }

    internal static Span<T> AsSpan<T>(Array a) where T : unmanaged =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(a)), a.Length);

    private static T[] Flatten<T>(Array a) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(a);
        var r = new T[a.Length];
        AsSpan<T>(a).CopyTo(r);
        return r;
    }
}
