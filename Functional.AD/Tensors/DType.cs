namespace Functional.AD;

/// <summary>
/// The element type of a <see cref="Tensor"/>: IEEE floating point (<see cref="Float32"/>, <see cref="Float64"/>, the
/// half-precision <see cref="Float16"/> and <see cref="BFloat16"/>), signed integers (<see cref="Int32"/>,
/// <see cref="Int64"/>) and <see cref="Bool"/>. Operations between dtypes promote as JAX does (<see cref="DTypes.Promote"/>,
/// the table in <c>docs/sharp-bits.md</c>).
/// </summary>
/// <example><code>
/// var a = Np.Ones([2]);                          // Float32, the default
/// var b = Np.Ones([2]).AsType(DType.Float64);
/// var c = a + b;                                 // Float64: the wider dtype wins
/// var labels = Tensor.FromArray(new[] { 0, 2, 1 });   // Int32
/// var mask = a &gt; 0.5;                           // Bool
/// </code></example>
public enum DType
{
    /// <summary>IEEE 754 binary32 (<see cref="float"/>); the default, as in JAX.</summary>
    Float32 = 0,

    /// <summary>IEEE 754 binary64 (<see cref="double"/>).</summary>
    Float64 = 1,

    /// <summary>
    /// 32-bit signed integers (<see cref="int"/>): labels, indices, counts. Arithmetic wraps on overflow and
    /// <c>/</c> and <c>%</c> truncate toward zero, as C#'s operators on <see cref="int"/> do. Carries no tangent.
    /// </summary>
    Int32 = 2,

    /// <summary>64-bit signed integers (<see cref="long"/>); C#'s semantics, as <see cref="Int32"/>. Carries no tangent.</summary>
    Int64 = 3,

    /// <summary>Booleans (<see cref="bool"/>): what comparisons give and <see cref="Np.Where"/> takes. Carries no tangent.</summary>
    Bool = 4,

    /// <summary>
    /// IEEE 754 binary16 (<see cref="System.Half"/>): stored in two bytes, computed in float32 on the CPU (each result
    /// rounded back to binary16), natively on Torch.
    /// </summary>
    Float16 = 5,

    /// <summary>
    /// bfloat16 (<see cref="Functional.AD.BFloat16"/>: float32's exponent, 8 bits of significand): stored in two bytes,
    /// computed in float32 on the CPU (each result rounded back), natively on Torch.
    /// </summary>
    BFloat16 = 6,
}

/// <summary>Helpers on <see cref="DType"/>: names, sizes, kinds and JAX's promotion table.</summary>
/// <example><code>
/// DTypes.Name(DType.Float64);                    // "float64"
/// DTypes.ItemSize(DType.BFloat16);               // 2
/// DTypes.Promote(DType.Int32, false, DType.Float16, false);   // (Float16, false), as in JAX
/// </code></example>
public static class DTypes
{
    /// <summary>Every dtype, in declaration order.</summary>
    public static IReadOnlyList<DType> All { get; } = [DType.Float32, DType.Float64, DType.Int32, DType.Int64, DType.Bool, DType.Float16, DType.BFloat16];

    /// <summary>The numpy name of a dtype: <c>float32</c>, <c>float64</c>, <c>int32</c>, <c>int64</c>, <c>bool</c>, <c>float16</c>, <c>bfloat16</c>.</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The lower-case name, e.g. <c>DTypes.Name(DType.Float64) == "float64"</c>.</returns>
    public static string Name(DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int32 => "int32",
        DType.Int64 => "int64",
        DType.Bool => "bool",
        DType.Float16 => "float16",
        DType.BFloat16 => "bfloat16",
        _ => $"dtype {(int)dtype}",
    };

    /// <summary>Whether the dtype is a floating point type (the dtypes that carry tangents).</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns><c>true</c> for Float32, Float64, Float16 and BFloat16.</returns>
    public static bool IsFloat(DType dtype) => dtype is DType.Float32 or DType.Float64 or DType.Float16 or DType.BFloat16;

    /// <summary>Whether the dtype is a signed integer type (Int32, Int64).</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns><c>true</c> for Int32 and Int64.</returns>
    public static bool IsInteger(DType dtype) => dtype is DType.Int32 or DType.Int64;

    /// <summary>Whether the dtype is stored in two bytes and computed in float32 on the CPU (Float16, BFloat16).</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns><c>true</c> for Float16 and BFloat16.</returns>
    public static bool IsHalf(DType dtype) => dtype is DType.Float16 or DType.BFloat16;

    /// <summary>Whether a value of this dtype carries a tangent (JAX: a non-float value has a float0 tangent, i.e. none).</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns><see cref="IsFloat"/>.</returns>
    public static bool HasTangent(DType dtype) => IsFloat(dtype);

    /// <summary>The size of one element in bytes: 8, 4, 2 or 1.</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns>Bytes per element.</returns>
    public static int ItemSize(DType dtype) => dtype switch
    {
        DType.Float64 or DType.Int64 => 8,
        DType.Float32 or DType.Int32 => 4,
        DType.Float16 or DType.BFloat16 => 2,
        DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a dtype"),
    };

    /// <summary>
    /// The dtype in which the CPU computes: the dtype itself, except the half-precision types, which compute in
    /// float32 (their results are rounded back to two bytes after each eager operation).
    /// </summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The compute dtype.</returns>
    public static DType ComputeType(DType dtype) => IsHalf(dtype) ? DType.Float32 : dtype;

    // ------------------------------------------------------------------ promotion

    /// <summary>
    /// The categories of JAX's type promotion lattice used here: the seven dtypes and the two weak kinds, a weak
    /// integer (<c>i*</c>, a scalar written as a C# <see cref="int"/> and made weak) and a weak float (<c>f*</c>, a
    /// C# <see cref="double"/> literal).
    /// </summary>
    internal enum Cat { B1, IWeak, I32, I64, FWeak, BF16, F16, F32, F64 }

    internal static readonly string[] CatNames = ["bool", "i*", "int32", "int64", "f*", "bfloat16", "float16", "float32", "float64"];

    /// <summary>
    /// JAX's promotion table (<c>jax.numpy.promote_types</c> with weak types, restricted to these dtypes): the row and
    /// column are the operands' categories in <see cref="Cat"/> order, the entry the result's. This is the one place the
    /// rule is written; <see cref="Promote"/> reads it and <c>docs/sharp-bits.md</c> prints it.
    /// </summary>
    internal static readonly string[][] PromotionTable =
    [
        //            bool        i*          int32       int64       f*          bfloat16    float16     float32     float64
        /* bool  */ ["bool",     "i*",       "int32",    "int64",    "f*",       "bfloat16", "float16",  "float32",  "float64"],
        /* i*    */ ["i*",       "i*",       "int32",    "int64",    "f*",       "bfloat16", "float16",  "float32",  "float64"],
        /* int32 */ ["int32",    "int32",    "int32",    "int64",    "f*",       "bfloat16", "float16",  "float32",  "float64"],
        /* int64 */ ["int64",    "int64",    "int64",    "int64",    "f*",       "bfloat16", "float16",  "float32",  "float64"],
        /* f*    */ ["f*",       "f*",       "f*",       "f*",       "f*",       "bfloat16", "float16",  "float32",  "float64"],
        /* bf16  */ ["bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "float32",  "float32",  "float64"],
        /* f16   */ ["float16",  "float16",  "float16",  "float16",  "float16",  "float32",  "float16",  "float32",  "float64"],
        /* f32   */ ["float32",  "float32",  "float32",  "float32",  "float32",  "float32",  "float32",  "float32",  "float64"],
        /* f64   */ ["float64",  "float64",  "float64",  "float64",  "float64",  "float64",  "float64",  "float64",  "float64"],
    ];

    // row-major, CatNames.Length entries per row (jagged and flat arrays, not [,]: each rectangular array type costs a
    // JIT-compiled accessor stub in every fresh process)
    static readonly Cat[] table = BuildTable();

    static Cat[] BuildTable()
    {
        int n = CatNames.Length;
        var t = new Cat[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                t[i * n + j] = (Cat)Array.IndexOf(CatNames, PromotionTable[i][j]);
        return t;
    }

    /// <summary>The lattice category of an operand of dtype <paramref name="d"/>, weakly typed or not.</summary>
    internal static Cat CatOf(DType d, bool weak) => d switch
    {
        DType.Bool => Cat.B1,
        DType.Int32 => weak ? Cat.IWeak : Cat.I32,
        DType.Int64 => weak ? Cat.IWeak : Cat.I64,
        DType.Float32 => weak ? Cat.FWeak : Cat.F32,
        DType.Float64 => weak ? Cat.FWeak : Cat.F64,
        DType.Float16 => weak ? Cat.FWeak : Cat.F16,
        DType.BFloat16 => weak ? Cat.FWeak : Cat.BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "not a dtype"),
    };

    /// <summary>
    /// JAX's result type of a binary operation, read from <see cref="PromotionTable"/>: a weak operand takes the other's
    /// dtype (<c>float32 op f* = float32</c>, <c>int32 op i* = int32</c>); an integer and a float give the float
    /// (<c>int32 op float16 = float16</c>); bool is below everything; float16 and bfloat16 meet at float32. The result
    /// is weak only when the table's entry is a weak kind; a weak float result is float32 unless a weak float64 operand
    /// makes it float64 (and a weak integer result int32 unless an operand is int64).
    /// Example: <c>Promote(Float32, false, Float64, true) == (Float32, false)</c>.
    /// </summary>
    /// <param name="a">Dtype of the first operand.</param>
    /// <param name="aWeak">Whether the first operand is weakly typed.</param>
    /// <param name="b">Dtype of the second operand.</param>
    /// <param name="bWeak">Whether the second operand is weakly typed.</param>
    /// <returns>The promoted dtype and weak flag.</returns>
    public static (DType DType, bool Weak) Promote(DType a, bool aWeak, DType b, bool bWeak)
    {
        if (a == b && aWeak == bWeak) return (a, aWeak);
        // (a weak bool is just bool: there is no weak bool category)
        var r = table[(int)CatOf(a, aWeak && a != DType.Bool) * CatNames.Length + (int)CatOf(b, bWeak && b != DType.Bool)];
        return r switch
        {
            Cat.B1 => (DType.Bool, false),
            Cat.I32 => (DType.Int32, false),
            Cat.I64 => (DType.Int64, false),
            Cat.F32 => (DType.Float32, false),
            Cat.F64 => (DType.Float64, false),
            Cat.F16 => (DType.Float16, false),
            Cat.BF16 => (DType.BFloat16, false),
            Cat.IWeak => (a == DType.Int64 && aWeak || b == DType.Int64 && bWeak ? DType.Int64 : DType.Int32, true),
            _ => (a == DType.Float64 && aWeak || b == DType.Float64 && bWeak ? DType.Float64 : DType.Float32, true),
        };
    }

    /// <summary>The dtype of a CLR element type: float, double, int, long, bool, <see cref="Half"/>, <see cref="Functional.AD.BFloat16"/>.</summary>
    internal static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(double) ? DType.Float64
        : typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(int) ? DType.Int32
        : typeof(T) == typeof(long) ? DType.Int64
        : typeof(T) == typeof(bool) ? DType.Bool
        : typeof(T) == typeof(Half) ? DType.Float16
        : typeof(T) == typeof(BFloat16) ? DType.BFloat16
        : throw new NotSupportedException($"element type {typeof(T).Name} is not a tensor dtype (float, double, int, long, bool, Half or BFloat16)");

    /// <summary>The dtype of a CLR element type, or null when it is none.</summary>
    internal static DType? OfType(Type t) =>
        t == typeof(double) ? DType.Float64
        : t == typeof(float) ? DType.Float32
        : t == typeof(int) ? DType.Int32
        : t == typeof(long) ? DType.Int64
        : t == typeof(bool) ? DType.Bool
        : t == typeof(Half) ? DType.Float16
        : t == typeof(BFloat16) ? DType.BFloat16
        : null;

    /// <summary>The CLR type a dtype's elements are stored as.</summary>
    internal static Type ClrType(DType dtype) => dtype switch
    {
        DType.Float64 => typeof(double),
        DType.Float32 => typeof(float),
        DType.Int32 => typeof(int),
        DType.Int64 => typeof(long),
        DType.Bool => typeof(bool),
        DType.Float16 => typeof(Half),
        DType.BFloat16 => typeof(BFloat16),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a dtype"),
    };

    /// <summary>Throws unless <paramref name="dtype"/> is a defined dtype.</summary>
    internal static DType Check(DType dtype, string call) =>
        (int)dtype is >= 0 and <= 6 ? dtype
        : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"{call}: {(int)dtype} is not a dtype; accepted: {string.Join(", ", All.Select(d => "DType." + d))}");
}

/// <summary>The sets of dtypes the primitive table's dtype column is written with.</summary>
internal static class DTypeSets
{
    /// <summary>Every dtype.</summary>
    internal static readonly DType[] All = [DType.Float32, DType.Float64, DType.Int32, DType.Int64, DType.Bool, DType.Float16, DType.BFloat16];
    /// <summary>The number dtypes: floats and integers (arithmetic refuses bool).</summary>
    internal static readonly DType[] Numbers = [DType.Float32, DType.Float64, DType.Int32, DType.Int64, DType.Float16, DType.BFloat16];
    /// <summary>The floating point dtypes.</summary>
    internal static readonly DType[] Floats = [DType.Float32, DType.Float64, DType.Float16, DType.BFloat16];
    /// <summary>A float-only function's result: a float keeps its dtype; an integer or bool operand gives float32.</summary>
    internal static DType FloatResult(DType d) => DTypes.IsFloat(d) ? d : DType.Float32;
}
