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
    /// <summary>The shape's entry in the intern table when this aval is the canonical one of its shape, dtype and weak flag.</summary>
    private readonly AvalTable.Entry? entry;

    /// <summary>Creates an abstract value.</summary>
    /// <param name="shape">The dimensions, outermost first; copied. Each must be non-negative.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="weak">Whether the value is weakly typed (see <see cref="Weak"/>).</param>
    /// <exception cref="ArgumentException">A dimension is negative.</exception>
    public Aval(int[] shape, DType dtype, bool weak = false)
        : this((int[])(shape ?? throw new ArgumentNullException(nameof(shape))).Clone(), dtype, weak, adopt: true)
    {
    }

    internal Aval(int[] dims, DType dtype, bool weak, bool adopt) : this(dims, dtype, weak, null) => _ = adopt;

    private Aval(int[] dims, DType dtype, bool weak, AvalTable.Entry? entry)
    {
        this.entry = entry;
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
    public static Aval ScalarDouble { get; } = Intern([], DType.Float64, false);

    /// <summary>A rank-0 <see cref="DType.Float32"/> value, the abstract value of a C# <see cref="float"/>.</summary>
    public static Aval ScalarFloat { get; } = Intern([], DType.Float32, false);

    /// <summary>
    /// The canonical aval of a shape, dtype and weak flag: one object per combination, so that a tensor holds its aval
    /// by reference (no per-tensor shape array) and a jit guard compares avals by reference. <paramref name="dims"/> is
    /// not kept (copied on the shape's first use). Past <see cref="AvalTable.Limit"/> distinct shapes a fresh,
    /// uninterned aval is returned (equal, not identical: the guard's fallback compares structurally).
    /// </summary>
    internal static Aval Intern(int[] dims, DType dtype, bool weak) => AvalTable.Get(dims)?.Get(dtype, weak) ?? new Aval(CheckedCopy(dims), dtype, weak, null);

    static int[] CheckedCopy(int[] dims) => (int[])dims.Clone();

    /// <summary>This aval's canonical (interned) equal, or itself when it is that one.</summary>
    internal Aval Canonical => entry is not null ? this : Intern(dims, DType, Weak);

    /// <summary>Whether this is the canonical aval of its shape, dtype and weak flag (see <see cref="Intern"/>).</summary>
    internal bool IsInterned => entry is not null;

    /// <summary>Makes the canonical aval of an entry (called by <see cref="AvalTable.Entry"/> once per combination).</summary>
    internal static Aval ForEntry(AvalTable.Entry e, DType dtype, bool weak) => new(e.Dims, dtype, weak, e);

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
    public Aval WithDType(DType dtype, bool weak = false) =>
        dtype == DType && weak == Weak ? this : entry?.Get(dtype, weak) ?? new Aval(dims, dtype, weak, adopt: true);

    /// <summary>Whether the shape, dtype and weak flag are all equal.</summary>
    /// <param name="other">The value to compare with.</param>
    /// <returns><c>true</c> when structurally equal.</returns>
    public bool Equals(Aval? other) =>
        other is not null && (ReferenceEquals(this, other) || (DType == other.DType && Weak == other.Weak && SmallArrays.Same(dims, other.dims)));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Aval);

    /// <inheritdoc/>
    public override int GetHashCode() => SmallArrays.Hash(dims, (int)DType * 2 + (Weak ? 1 : 0));

    /// <summary>Readable form: <c>float32[3,2]</c>; a weak scalar prints as <c>float32[] weak</c>.</summary>
    /// <returns>The dtype name followed by the bracketed shape.</returns>
    public override string ToString()
    {
        // a loop, not string.Join over the ints: that generic method is JIT-compiled in every fresh process, and the
        // probe caches' keys print avals on the way to a first call
        var sb = new System.Text.StringBuilder(DTypes.Name(DType)).Append('[');
        for (int i = 0; i < dims.Length; i++) (i > 0 ? sb.Append(',') : sb).Append(dims[i]);
        return sb.Append(']').Append(Weak ? " weak" : "").ToString();
    }
}

/// <summary>
/// The intern table of shapes: one <see cref="Entry"/> per distinct list of dimensions, holding the canonical dims array
/// and the canonical <see cref="Aval"/> of each dtype and weak flag. Rank 0, short vectors and small matrices are found
/// by index, other shapes in a concurrent dictionary. Entries are never removed (shapes are few in practice); past <see cref="Limit"/>
/// shapes no new entry is made.
/// </summary>
internal static class AvalTable
{
    /// <summary>Most shapes interned; later ones get uninterned avals.</summary>
    public const int Limit = 1 << 16;
    const int ShortVectors = 1024;

    /// <summary>The number of dtypes (the length of <see cref="DType"/>); avals of an entry are indexed by dtype and weak flag.</summary>
    static readonly int Kinds = 2 * Enum.GetValues<DType>().Length;

    /// <summary>One interned shape and its avals.</summary>
    internal sealed class Entry
    {
        public readonly int[] Dims;
        readonly Aval?[] avals = new Aval?[Kinds];

        public Entry(int[] dims) => Dims = dims;

        /// <summary>The canonical aval of this shape with <paramref name="dtype"/> and <paramref name="weak"/>; null for an unknown dtype.</summary>
        public Aval? Get(DType dtype, bool weak)
        {
            int k = 2 * (int)dtype + (weak ? 1 : 0);
            if ((uint)k >= (uint)avals.Length) return null;
            var a = Volatile.Read(ref avals[k]);
            if (a is not null) return a;
            Interlocked.CompareExchange(ref avals[k], Aval.ForEntry(this, dtype, weak), null);
            return avals[k];
        }
    }

    const int SmallMatrix = 64;
    static readonly Entry Scalar = new([]);
    static readonly Entry?[] vectors = new Entry?[ShortVectors];
    static readonly Entry?[] matrices = new Entry?[SmallMatrix * SmallMatrix];
    static readonly System.Collections.Concurrent.ConcurrentDictionary<int[], Entry> others = new(DimsComparer.Instance);

    /// <summary>The entry of a shape (made on first use, when the dimensions are validated); null when the table is full.</summary>
    public static Entry? Get(int[] dims)
    {
        if (dims.Length == 0) return Scalar;
        if (dims.Length == 1 && (uint)dims[0] < ShortVectors)
        {
            var v = Volatile.Read(ref vectors[dims[0]]);
            if (v is not null) return v;
            Interlocked.CompareExchange(ref vectors[dims[0]], new Entry([dims[0]]), null);
            return vectors[dims[0]]!;
        }
        if (dims.Length == 2 && (uint)dims[0] < SmallMatrix && (uint)dims[1] < SmallMatrix)
        {
            int k = dims[0] * SmallMatrix + dims[1];
            var m = Volatile.Read(ref matrices[k]);
            if (m is not null) return m;
            Interlocked.CompareExchange(ref matrices[k], new Entry([dims[0], dims[1]]), null);
            return matrices[k]!;
        }
        if (others.TryGetValue(dims, out var e)) return e;
        Validate(dims);
        if (others.Count >= Limit) return null;
        var copy = (int[])dims.Clone();
        return others.GetOrAdd(copy, new Entry(copy));
    }

    static void Validate(int[] dims)
    {
        long size = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new ArgumentException($"shape [{string.Join(",", dims)}] has a negative dimension; dimensions are 0 or more", "shape");
            size *= d;
            if (size > int.MaxValue) throw new ArgumentException($"shape [{string.Join(",", dims)}] has more than {int.MaxValue} elements", "shape");
        }
    }

    sealed class DimsComparer : IEqualityComparer<int[]>
    {
        public static readonly DimsComparer Instance = new();
        // plain loops: the framework's generic span compare and HashCode.Add over int are JIT-compiled in every fresh process
        public bool Equals(int[]? x, int[]? y) => SmallArrays.Same(x, y);
        public int GetHashCode(int[] d) => SmallArrays.Hash(d, 0);
    }
}
