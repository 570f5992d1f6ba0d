namespace Functional.AD;

/// <summary>
/// An abstract value: what is known about a tensor without its data, that is its shape, its
/// <see cref="DType"/> and whether it is weakly typed (a literal such as <c>2.0</c>, which takes the
/// dtype of whatever it is combined with). Equality is structural.
/// Example: <c>new Aval([3, 2], DType.Float32).ToString() == "float32[3,2]"</c>.
/// </summary>
/// <example><code>
/// var a = new Aval([3, 2], DType.Float32);
/// Console.WriteLine(a);                              // f32[3,2]
/// bool same = Np.Ones([3, 2]).Aval.Equals(a);        // true
/// </code></example>
public sealed class Aval : IEquatable<Aval>
{
    private readonly int[] dims;
    private IReadOnlyList<int>? shape;

    /// <summary>Creates an abstract value.</summary>
    /// <param name="shape">The dimensions, outermost first; copied. Each must be non-negative.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="weak">Whether the value is weakly typed (see <see cref="Weak"/>).</param>
    /// <exception cref="ArgumentException">A dimension is negative.</exception>
    public Aval(int[] shape, DType dtype, bool weak = false)
        : this((int[])(shape ?? throw new ArgumentNullException(nameof(shape))).Clone(), dtype, weak, adopt: true)
    {
    }

    internal Aval(int[] dims, DType dtype, bool weak, bool adopt)
    {
        _ = adopt;
        long size = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new ArgumentException($"shape [{string.Join(",", dims)}] has a negative dimension", nameof(dims));
            size *= d;
        }
        if (size > int.MaxValue) throw new ArgumentException($"shape [{string.Join(",", dims)}] has more than {int.MaxValue} elements", nameof(dims));
        this.dims = dims;
        DType = dtype;
        Weak = weak;
        Size = (int)size;
    }

    /// <summary>A rank-0 <see cref="DType.Float64"/> value, the abstract value of a C# <see cref="double"/>.</summary>
    public static Aval ScalarDouble { get; } = new([], DType.Float64);

    /// <summary>A rank-0 <see cref="DType.Float32"/> value, the abstract value of a C# <see cref="float"/>.</summary>
    public static Aval ScalarFloat { get; } = new([], DType.Float32);

    /// <summary>The dimensions, outermost first (row-major).</summary>
    public IReadOnlyList<int> Shape => shape ??= Array.AsReadOnly(dims);

    /// <summary>The element type.</summary>
    public DType DType { get; }

    /// <summary>
    /// Whether the value is weakly typed: in a binary operation it takes the other operand's dtype
    /// (JAX's <c>weak_type</c>), so <c>float32 tensor * 2.0</c> stays float32.
    /// </summary>
    public bool Weak { get; }

    /// <summary>The number of axes.</summary>
    public int Rank => dims.Length;

    /// <summary>The number of elements (the product of the dimensions; 1 for rank 0).</summary>
    public int Size { get; }

    /// <summary>The dimensions, not copied: callers must not mutate.</summary>
    internal int[] Dims => dims;

    /// <summary>The same shape with another dtype and weak flag.</summary>
    /// <param name="dtype">The new dtype.</param>
    /// <param name="weak">The new weak flag.</param>
    /// <returns>An abstract value with this shape.</returns>
    public Aval WithDType(DType dtype, bool weak = false) => dtype == DType && weak == Weak ? this : new Aval(dims, dtype, weak, adopt: true);

    /// <summary>Whether the shape, dtype and weak flag are all equal.</summary>
    /// <param name="other">The value to compare with.</param>
    /// <returns><c>true</c> when structurally equal.</returns>
    public bool Equals(Aval? other) =>
        other is not null && (ReferenceEquals(this, other) || (DType == other.DType && Weak == other.Weak && dims.AsSpan().SequenceEqual(other.dims)));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Aval);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(DType);
        h.Add(Weak);
        foreach (var d in dims) h.Add(d);
        return h.ToHashCode();
    }

    /// <summary>Readable form: <c>float32[3,2]</c>; a weak scalar prints as <c>float32[] weak</c>.</summary>
    /// <returns>The dtype name followed by the bracketed shape.</returns>
    public override string ToString() => $"{DTypes.Name(DType)}[{string.Join(",", dims)}]{(Weak ? " weak" : "")}";
}
