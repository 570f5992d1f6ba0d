using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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

    /// <summary>
    /// Transposes the block of examples <paramref name="i"/> on, held as <paramref name="s"/> columns of one vector
    /// each in <paramref name="cols"/>, into the row-major [<paramref name="rows"/>, <paramref name="s"/>] array
    /// <paramref name="d"/> (examples past the last dropped).
    /// </summary>
    public static void StoreRows<T>(T[] cols, T[] d, int i, int s, int rows) where T : unmanaged
    {
        int n = Math.Min(Vector256<T>.Count, rows - i);
        if (n <= 0) return;
        var dst = d.AsSpan(i * s, n * s);
        for (int l = 0; l < n; l++)
            for (int j = 0; j < s; j++) dst[l * s + j] = cols[j * Vector256<T>.Count + l];
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

    /// <summary>
    /// Transposes the block of examples <paramref name="i"/> on, held as <paramref name="s"/> columns of one vector
    /// each in <paramref name="cols"/>, into the row-major [<paramref name="rows"/>, <paramref name="s"/>] array
    /// <paramref name="d"/> (examples past the last dropped).
    /// </summary>
    public static void StoreRows<T>(T[] cols, T[] d, int i, int s, int rows) where T : unmanaged
    {
        int n = Math.Min(Vector512<T>.Count, rows - i);
        if (n <= 0) return;
        var dst = d.AsSpan(i * s, n * s);
        for (int l = 0; l < n; l++)
            for (int j = 0; j < s; j++) dst[l * s + j] = cols[j * Vector512<T>.Count + l];
    }
}
