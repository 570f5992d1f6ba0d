using System.Globalization;
using System.Runtime.CompilerServices;

namespace Functional.AD;

/// <summary>
/// A bfloat16 number: the upper 16 bits of a float32 (sign, 8 exponent bits, 7 significand bits), the element type of
/// <see cref="DType.BFloat16"/> tensors. .NET has no bfloat16 type, so this is the storage; arithmetic is done by
/// converting to <see cref="float"/> (exactly) and rounding the result back (to nearest, ties to even).
/// </summary>
/// <example><code>
/// var b = (BFloat16)3.14159f;        // 3.140625: 8 significant bits
/// float f = (float)b;
/// </code></example>
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IFormattable
{
    /// <summary>The raw bits: the upper half of the float32 with the same value.</summary>
    public readonly ushort Bits;

    private BFloat16(ushort bits) => Bits = bits;

    /// <summary>The number whose raw bits are <paramref name="bits"/>.</summary>
    /// <param name="bits">The upper 16 bits of a float32.</param>
    /// <returns>The bfloat16 value.</returns>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>Rounds a float32 to the nearest bfloat16 (ties to even); NaN stays NaN (quiet).</summary>
    /// <param name="f">The value.</param>
    public static explicit operator BFloat16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return new((ushort)((u >> 16) | 0x0040));
        uint rounding = 0x7FFF + ((u >> 16) & 1);
        return new((ushort)((u + rounding) >> 16));
    }

    /// <summary>Rounds a float64 to the nearest bfloat16 (through float32: both roundings to nearest).</summary>
    /// <param name="d">The value.</param>
    public static explicit operator BFloat16(double d) => (BFloat16)(float)d;

    /// <summary>The exact float32 value.</summary>
    /// <param name="b">The value.</param>
    public static explicit operator float(BFloat16 b) => BitConverter.UInt32BitsToSingle((uint)b.Bits << 16);

    /// <summary>The exact float64 value.</summary>
    /// <param name="b">The value.</param>
    public static explicit operator double(BFloat16 b) => (float)b;

    /// <summary>Whether the value is NaN.</summary>
    /// <param name="b">The value.</param>
    /// <returns><c>true</c> for NaN.</returns>
    public static bool IsNaN(BFloat16 b) => float.IsNaN((float)b);

    /// <inheritdoc/>
    public bool Equals(BFloat16 other) => (float)this == (float)other;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BFloat16 b && Equals(b);

    /// <inheritdoc/>
    public override int GetHashCode() => ((float)this).GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo((float)other);

    /// <summary>IEEE equality (NaN is not equal to itself).</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>Whether equal.</returns>
    public static bool operator ==(BFloat16 a, BFloat16 b) => (float)a == (float)b;

    /// <summary>IEEE inequality.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>Whether not equal.</returns>
    public static bool operator !=(BFloat16 a, BFloat16 b) => (float)a != (float)b;

    /// <inheritdoc/>
    public override string ToString() => ((float)this).ToString(CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ((float)this).ToString(format, formatProvider);
}

/// <summary>Conversions between the stored dtypes and the compute types (float, double, int, long, bool).</summary>
internal static class Elements
{
    /// <summary>One element converted with C#'s explicit conversion semantics (float to int truncates; bool is 0/1; NaN to int is 0... as .NET's saturating cast).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double ToDouble<T>(T v) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) return (double)(object)v;
        if (typeof(T) == typeof(float)) return (float)(object)v;
        if (typeof(T) == typeof(int)) return (int)(object)v;
        if (typeof(T) == typeof(long)) return (long)(object)v;
        if (typeof(T) == typeof(bool)) return (bool)(object)v ? 1 : 0;
        if (typeof(T) == typeof(Half)) return (double)(Half)(object)v;
        if (typeof(T) == typeof(BFloat16)) return (double)(BFloat16)(object)v;
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>All elements of <paramref name="src"/> (of dtype <paramref name="from"/>) converted to dtype <paramref name="to"/>: a fresh array.</summary>
    internal static Array Convert(Array src, DType from, DType to)
    {
        int n = src.Length;
        if (from == to) return (Array)src.Clone();
        switch (from, to)
        {
            case (DType.Float32, DType.Float64): { var r = new double[n]; System.Numerics.Tensors.TensorPrimitives.ConvertChecked<float, double>((float[])src, r); return r; }
            case (DType.Float64, DType.Float32): { var r = new float[n]; System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>((double[])src, r); return r; }
            case (DType.Float16, DType.Float32): { var r = new float[n]; System.Numerics.Tensors.TensorPrimitives.ConvertToSingle((Half[])src, r); return r; }
            case (DType.Float32, DType.Float16): { var r = new Half[n]; System.Numerics.Tensors.TensorPrimitives.ConvertToHalf((float[])src, r); return r; }
            case (DType.BFloat16, DType.Float32): { var s = (BFloat16[])src; var r = new float[n]; for (int i = 0; i < n; i++) r[i] = (float)s[i]; return r; }
            case (DType.Float32, DType.BFloat16): { var s = (float[])src; var r = new BFloat16[n]; for (int i = 0; i < n; i++) r[i] = (BFloat16)s[i]; return r; }
        }
        // everything else goes through double (exact for every source but int64 beyond 2^53, which converts as C# does)
        if (from == DType.Int64 && to == DType.Int32) { var s = (long[])src; var r = new int[n]; for (int i = 0; i < n; i++) r[i] = unchecked((int)s[i]); return r; }
        if (from == DType.Int32 && to == DType.Int64) { var s = (int[])src; var r = new long[n]; for (int i = 0; i < n; i++) r[i] = s[i]; return r; }
        if (from == DType.Int64 && IsFloatTarget(to)) { var s = (long[])src; var d = new double[n]; for (int i = 0; i < n; i++) d[i] = s[i]; if (to != DType.Float32) return to == DType.Float64 ? d : Convert(d, DType.Float64, to); var f = new float[n]; for (int i = 0; i < n; i++) f[i] = s[i]; return f; }
        var dv = ToDoubles(src, from);
        return FromDoubles(dv, to);
    }

    static bool IsFloatTarget(DType d) => DTypes.IsFloat(d);

    internal static double[] ToDoubles(Array src, DType from)
    {
        int n = src.Length;
        var r = new double[n];
        switch (src)
        {
            case double[] d: Array.Copy(d, r, n); break;
            case float[] f: for (int i = 0; i < n; i++) r[i] = f[i]; break;
            case int[] a: for (int i = 0; i < n; i++) r[i] = a[i]; break;
            case long[] l: for (int i = 0; i < n; i++) r[i] = l[i]; break;
            case bool[] b: for (int i = 0; i < n; i++) r[i] = b[i] ? 1 : 0; break;
            case Half[] h: for (int i = 0; i < n; i++) r[i] = (double)h[i]; break;
            case BFloat16[] bf: for (int i = 0; i < n; i++) r[i] = (double)bf[i]; break;
            default: throw new NotSupportedException($"{src.GetType().Name} as {from}");
        }
        return r;
    }

    /// <summary>
    /// Doubles converted to <paramref name="to"/> with C#'s explicit conversions: to an integer, truncation toward zero
    /// (.NET saturates out-of-range values and gives 0 for NaN); to bool, non-zero (NaN included) is true.
    /// </summary>
    internal static Array FromDoubles(double[] d, DType to)
    {
        int n = d.Length;
        switch (to)
        {
            case DType.Float64: return d;
            case DType.Float32: { var r = new float[n]; for (int i = 0; i < n; i++) r[i] = (float)d[i]; return r; }
            case DType.Int32: { var r = new int[n]; for (int i = 0; i < n; i++) r[i] = (int)d[i]; return r; }
            case DType.Int64: { var r = new long[n]; for (int i = 0; i < n; i++) r[i] = (long)d[i]; return r; }
            case DType.Bool: { var r = new bool[n]; for (int i = 0; i < n; i++) r[i] = d[i] != 0; return r; }
            case DType.Float16: { var r = new Half[n]; for (int i = 0; i < n; i++) r[i] = (Half)d[i]; return r; }
            case DType.BFloat16: { var r = new BFloat16[n]; for (int i = 0; i < n; i++) r[i] = (BFloat16)d[i]; return r; }
        }
        throw new ArgumentOutOfRangeException(nameof(to), to, "not a dtype");
    }

    /// <summary>A fresh zeroed array of <paramref name="n"/> elements of dtype <paramref name="d"/> (typed allocations, not
    /// <c>Array.CreateInstance</c>, which goes through reflection's type caches).</summary>
    internal static Array New(DType d, int n) => d switch
    {
        DType.Float32 => new float[n],
        DType.Float64 => new double[n],
        DType.Int32 => new int[n],
        DType.Int64 => new long[n],
        DType.Bool => new bool[n],
        DType.Float16 => new Half[n],
        DType.BFloat16 => new BFloat16[n],
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "not a dtype"),
    };

    /// <summary>A fresh array of <paramref name="n"/> elements of dtype <paramref name="d"/>, all <paramref name="value"/>.</summary>
    internal static Array Filled(DType d, int n, double value)
    {
        var a = New(d, n);
        if (value == 0 && d != DType.Bool) return a;
        switch (a)
        {
            // a few elements (a seed, a scalar) by a loop: the vectorised fill is generic code that each fresh process
            // would JIT-compile for its first small fill
            case double[] x when n <= 16: for (int i = 0; i < n; i++) x[i] = value; break;
            case float[] x when n <= 16: for (int i = 0; i < n; i++) x[i] = (float)value; break;
            case double[] x: x.AsSpan().Fill(value); break;
            case float[] x: x.AsSpan().Fill((float)value); break;
            case int[] x: x.AsSpan().Fill((int)value); break;
            case long[] x: x.AsSpan().Fill((long)value); break;
            case bool[] x: if (value != 0) x.AsSpan().Fill(true); break;
            case Half[] x: x.AsSpan().Fill((Half)value); break;
            case BFloat16[] x: x.AsSpan().Fill((BFloat16)value); break;
        }
        return a;
    }
}
