using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.AD;

/// <summary>Helpers of the batch loop's vector lanes (one example per lane), Vector256 form.</summary>
internal static class Lane256
{
    /// <summary>All bits set in the lanes of examples before <paramref name="b"/>, zero past it (the padded tail): x &amp; mask keeps the real examples.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Mask<T>(int i, int b) where T : unmanaged
    {
        int valid = b - i;
        if (valid >= Vector256<T>.Count) return Vector256<T>.AllBitsSet;
        var r = Vector256<T>.Zero;
        for (int l = 0; l < valid; l++) r = r.WithElement(l, Vector256<T>.AllBitsSet.GetElement(0));
        return r;
    }

    /// <summary>The sum of the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum<T>(Vector256<T> x) where T : unmanaged => Vector256.Sum(x);

    /// <summary>
    /// Stores one value per example into <paramref name="d"/> (one element per example, <paramref name="rows"/>
    /// examples): the lanes of examples <paramref name="i"/> on, those past the last example dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreColumn<T>(Vector256<T> v, T[] d, int i, int rows) where T : unmanaged
    {
        if (i + Vector256<T>.Count <= rows) v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(d), (nuint)i);
        else for (int l = 0; i + l < rows; l++) d[i + l] = v.GetElement(l);
    }
}

/// <summary>Helpers of the batch loop's vector lanes (one example per lane), Vector512 form.</summary>
internal static class Lane512
{
    /// <summary>All bits set in the lanes of examples before <paramref name="b"/>, zero past it (the padded tail): x &amp; mask keeps the real examples.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Mask<T>(int i, int b) where T : unmanaged
    {
        int valid = b - i;
        if (valid >= Vector512<T>.Count) return Vector512<T>.AllBitsSet;
        var r = Vector512<T>.Zero;
        for (int l = 0; l < valid; l++) r = r.WithElement(l, Vector512<T>.AllBitsSet.GetElement(0));
        return r;
    }

    /// <summary>The sum of the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum<T>(Vector512<T> x) where T : unmanaged => Vector512.Sum(x);

    /// <summary>
    /// Stores one value per example into <paramref name="d"/> (one element per example, <paramref name="rows"/>
    /// examples): the lanes of examples <paramref name="i"/> on, those past the last example dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreColumn<T>(Vector512<T> v, T[] d, int i, int rows) where T : unmanaged
    {
        if (i + Vector512<T>.Count <= rows) v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(d), (nuint)i);
        else for (int l = 0; i + l < rows; l++) d[i + l] = v.GetElement(l);
    }
}

/// <summary>The batch loop's per-example outputs, transposed from lane columns to rows (float: by 8 x 8 blocks, AVX).</summary>
internal static class LaneRows
{
    /// <summary>Whether the AVX transpose can run here.</summary>
    static bool Fast => Avx.IsSupported;

    /// <summary>
    /// Transposes the block of examples <paramref name="i"/> on, held as <paramref name="s"/> columns of
    /// <paramref name="lanes"/> values each in <paramref name="cols"/>, into the row-major [<paramref name="rows"/>,
    /// <paramref name="s"/>] array <paramref name="d"/> (examples past the last dropped).
    /// </summary>
    public static void Store<T>(T[] cols, T[] d, int i, int s, int rows, int lanes) where T : unmanaged
    {
        int n = Math.Min(lanes, rows - i);
        if (n <= 0) return;
        if (typeof(T) == typeof(float) && s <= 8 && Fast)
        {
            Float((float[])(object)cols, (float[])(object)d, i, s, n, lanes);
            return;
        }
        var dst = d.AsSpan(i * s, n * s);
        for (int l = 0; l < n; l++)
            for (int j = 0; j < s; j++) dst[l * s + j] = cols[j * lanes + l];
    }

    /// <summary>
    /// Writes examples <paramref name="i"/> to <paramref name="i"/> + <paramref name="n"/> - 1, whose
    /// <paramref name="s"/> (at most 8) elements are columns of <paramref name="lanes"/> values each in
    /// <paramref name="cols"/>, as rows of <paramref name="d"/>. Each example is stored as 8 floats, the elements past
    /// its own landing on the next examples, which are stored after it (in this call or the next one, which handles
    /// the following examples); where 8 floats would pass the end of <paramref name="d"/>, only the example's own.
    /// </summary>
    static void Float(float[] cols, float[] d, int i, int s, int n, int lanes)
    {
        for (int h = 0; h < n; h += 8)
        {
            // rows j = elements, columns = 8 examples: transpose so that vector l holds example h + l's elements
            var (r0, r1, r2, r3) = (Row(cols, 0, s, lanes, h), Row(cols, 1, s, lanes, h), Row(cols, 2, s, lanes, h), Row(cols, 3, s, lanes, h));
            var (r4, r5, r6, r7) = (Row(cols, 4, s, lanes, h), Row(cols, 5, s, lanes, h), Row(cols, 6, s, lanes, h), Row(cols, 7, s, lanes, h));
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            int m = Math.Min(8, n - h), e = i + h;
            Put(r0, d, e, 0, m, s); Put(r1, d, e, 1, m, s); Put(r2, d, e, 2, m, s); Put(r3, d, e, 3, m, s);
            Put(r4, d, e, 4, m, s); Put(r5, d, e, 5, m, s); Put(r6, d, e, 6, m, s); Put(r7, d, e, 7, m, s);
        }
    }

    /// <summary>
    /// The 8 x 8 float matrix held in rows r0..r7 transposed in registers (AVX: unpack, shuffle within 128-bit halves,
    /// then swap halves): afterwards rj holds what was column j. Also the GEMM's pack of a transposed operand.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20); r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20); r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31); r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31); r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Row(float[] cols, int j, int s, int lanes, int h) =>
        j < s ? Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(cols), (nuint)(j * lanes + h)) : Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(Vector256<float> v, float[] d, int e, int l, int m, int s)
    {
        if (l >= m) return;
        int at = (e + l) * s;
        if (at + 8 <= d.Length) v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(d), (nuint)at);
        else for (int j = 0; j < s; j++) d[at + j] = v.GetElement(j);
    }
}
