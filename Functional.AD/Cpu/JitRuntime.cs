using System.Numerics;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Functional.AD;

/// <summary>
/// Run-time helpers that jitted code calls: typed access to a tensor's elements and making fresh tensors. They are
/// not inlined into the generated code: the JIT's attempt to inline a generic method over generic-math constraints
/// into a dynamic method costs about 2 ms of compile time per specialisation, a call costs a nanosecond.
/// </summary>
internal static class JitRt
{
    /// <summary>
    /// x's elements as a <typeparamref name="T"/>[]: the tensor's own array when it is managed and of that type (not to be
    /// written), otherwise a converted copy (a weak scalar promoted to float64 uses its exact value, as eager code does).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]   // see the class summary
    public static T[] Data<T>(Tensor x) where T : unmanaged
    {
        if (x.Data is T[] a) return a;   // a tensor in host memory: its own array
        if (x.Managed is T[] w) return w;   // a weak scalar's float32 value
        return Eager.Data<T>(x).ToArray();
    }

    // ---- halves in fused loops: widened to float32 (or float64) in blocks before the loop reads them, rounded back
    // after it writes them; the same conversions eager code uses (TensorPrimitives' for float16, round to nearest even
    // for bfloat16), so a single fused operation gives the eager kernel's value

    /// <summary>Elements <c>[start, start + count)</c> of <paramref name="src"/> widened (exactly) into the same places of <paramref name="dst"/>.</summary>
    public static void Widen(Half[] src, float[] dst, int start, int count) =>
        TensorPrimitives.ConvertToSingle(src.AsSpan(start, count), dst.AsSpan(start, count));

    /// <summary>Elements <c>[start, start + count)</c> of <paramref name="src"/> widened (exactly: the bits shifted up) into the same places of <paramref name="dst"/>.</summary>
    public static void Widen(BFloat16[] src, float[] dst, int start, int count)
    {
        var s = MemoryMarshal.Cast<BFloat16, ushort>(src.AsSpan(start, count));
        var d = MemoryMarshal.Cast<float, uint>(dst.AsSpan(start, count));
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= s.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            {
                Vector.Widen(new Vector<ushort>(s[i..]), out var lo, out var hi);
                (lo << 16).CopyTo(d[i..]);
                (hi << 16).CopyTo(d[(i + Vector<uint>.Count)..]);
            }
        for (; i < s.Length; i++) d[i] = (uint)s[i] << 16;
    }

    /// <summary>Elements <c>[start, start + count)</c> of <paramref name="src"/> widened (exactly) into the same places of <paramref name="dst"/>.</summary>
    public static void Widen(Half[] src, double[] dst, int start, int count)
    {
        for (int i = start; i < start + count; i++) dst[i] = (double)src[i];
    }

    /// <summary>Elements <c>[start, start + count)</c> of <paramref name="src"/> widened (exactly) into the same places of <paramref name="dst"/>.</summary>
    public static void Widen(BFloat16[] src, double[] dst, int start, int count)
    {
        for (int i = start; i < start + count; i++) dst[i] = (double)src[i];
    }

    /// <summary>Elements <c>[start, start + count)</c> of <paramref name="src"/> (a half value kept in float32) widened into the same places of <paramref name="dst"/>.</summary>
    public static void Widen(float[] src, double[] dst, int start, int count)
    {
        for (int i = start; i < start + count; i++) dst[i] = src[i];
    }

    /// <summary>Elements <c>[start, start + count)</c> of <paramref name="src"/> rounded to float16 (to nearest, ties to even) into the same places of <paramref name="dst"/>.</summary>
    public static void Narrow(float[] src, Half[] dst, int start, int count) =>
        TensorPrimitives.ConvertToHalf(src.AsSpan(start, count), dst.AsSpan(start, count));

    /// <summary>
    /// Elements <c>[start, start + count)</c> of <paramref name="src"/> rounded to bfloat16 into the same places of
    /// <paramref name="dst"/>: as <c>(BFloat16)f</c>, to nearest with ties to even, NaN kept quiet.
    /// </summary>
    public static void Narrow(float[] src, BFloat16[] dst, int start, int count)
    {
        var s = MemoryMarshal.Cast<float, uint>(src.AsSpan(start, count));
        var d = MemoryMarshal.Cast<BFloat16, ushort>(dst.AsSpan(start, count));
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= s.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
                Vector.Narrow(RoundBFloat16(new Vector<uint>(s[i..])), RoundBFloat16(new Vector<uint>(s[(i + Vector<uint>.Count)..]))).CopyTo(d[i..]);
        for (; i < s.Length; i++) d[i] = BitsOfBFloat16(s[i]);
    }

    static ushort BitsOfBFloat16(uint u) => ((BFloat16)BitConverter.UInt32BitsToSingle(u)).Bits;

    /// <summary>The bfloat16 bits of float32 bits, per lane, in the low half: <see cref="BFloat16"/>'s rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<uint> RoundBFloat16(Vector<uint> u)
    {
        var rounded = (u + new Vector<uint>(0x7FFF) + ((u >> 16) & Vector<uint>.One)) >> 16;
        var nan = Vector.GreaterThan(u & new Vector<uint>(0x7FFFFFFF), new Vector<uint>(0x7F800000));
        return Vector.ConditionalSelect(nan, (u >> 16) | new Vector<uint>(0x0040), rounded);
    }

    /// <summary>A bool array from a loop's 0/1 values (non-zero, NaN included, is true).</summary>
    public static bool[] ToBool<T>(T[] zeroOne) where T : unmanaged, System.Numerics.INumber<T>
    {
        var r = new bool[zeroOne.Length];
        for (int i = 0; i < r.Length; i++) r[i] = zeroOne[i] != T.Zero;
        return r;
    }

    /// <summary>
    /// The guard of a tensor leaf and its elements in one call: x's elements as <typeparamref name="T"/>[] (its own
    /// array, see <see cref="Data{T}"/>) when x is not null and has the shape, dtype and weak flag of
    /// <paramref name="a"/>, otherwise null. A reference compare, since tensors hold interned avals; the structural
    /// compare only for another signature or an aval made after the intern table filled up.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T[]? FitsData<T>(Tensor? x, Aval a) where T : unmanaged =>
        x is not null && ReferenceEquals(x.Aval, a) && x.Data.GetType() == typeof(T[]) ? Unsafe.As<T[]>(x.Data) : FitsDataSlow<T>(x, a);

    [MethodImpl(MethodImplOptions.NoInlining)]
    static T[]? FitsDataSlow<T>(Tensor? x, Aval a) where T : unmanaged =>
        x is null || !x.Aval.Equals(a) ? null : Data<T>(x);

    /// <summary>A fresh tensor adopting <paramref name="data"/> (interns <paramref name="dims"/>: code that knows the aval uses <see cref="Codegen.MakeTensor"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Tensor Make<T>(T[] data, int[] dims, bool weak) where T : unmanaged => Tensor.Adopt(data, dims, weak);

    /// <summary>
    /// The [b, s] row-major <paramref name="data"/> as columns: element j of example e at <c>j * bp + e</c>, each column
    /// padded with zeros to <paramref name="bp"/> (whole vectors), for the lane form of the batch loop, written into
    /// <paramref name="c"/> (at least s * bp elements) and returned.
    /// </summary>
    public static T[] ToColumns<T>(T[] data, int b, int s, int bp, T[] c) where T : unmanaged
    {
        for (int j = 0; j < s; j++) Array.Clear(c, j * bp + b, bp - b);   // the padding (c may be reused)
        if (s == 1) { Array.Copy(data, c, b); return c; }
        int e0 = 0;
        if (s == 2 && typeof(T) == typeof(float) && System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            e0 = Deinterleave2((float[])(object)data, b, bp, (float[])(object)c);
        for (int e = e0; e < b; e++)
            for (int j = 0; j < s; j++) c[j * bp + e] = data[e * s + j];
        return c;
    }

    /// <summary>
    /// Two features per example (the XOR inputs, points in the plane) split into their two columns eight examples at a
    /// time: two loads, one shuffle per column within 128-bit halves, one permute to order them; the examples done.
    /// </summary>
    static unsafe int Deinterleave2(float[] data, int b, int bp, float[] c)
    {
        int e = 0;
        fixed (float* src = data, dst = c)
            for (; e + 8 <= b; e += 8)
            {
                var v0 = System.Runtime.Intrinsics.X86.Avx.LoadVector256(src + 2 * e);       // x0 y0 x1 y1 | x2 y2 x3 y3
                var v1 = System.Runtime.Intrinsics.X86.Avx.LoadVector256(src + 2 * e + 8);   // x4 y4 x5 y5 | x6 y6 x7 y7
                var xs = System.Runtime.Intrinsics.X86.Avx.Shuffle(v0, v1, 0b10_00_10_00);   // x0 x1 x4 x5 | x2 x3 x6 x7
                var ys = System.Runtime.Intrinsics.X86.Avx.Shuffle(v0, v1, 0b11_01_11_01);
                System.Runtime.Intrinsics.X86.Avx.Store(dst + e, System.Runtime.Intrinsics.X86.Avx2.Permute4x64(xs.AsDouble(), 0b11_01_10_00).AsSingle());
                System.Runtime.Intrinsics.X86.Avx.Store(dst + bp + e, System.Runtime.Intrinsics.X86.Avx2.Permute4x64(ys.AsDouble(), 0b11_01_10_00).AsSingle());
            }
        return e;
    }
}
