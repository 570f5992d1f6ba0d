using System.Runtime.CompilerServices;
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
}
