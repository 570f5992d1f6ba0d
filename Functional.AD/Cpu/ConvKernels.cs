using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.AD;

/// <summary>
/// The eager methods of the convolution family (what <c>Lax.Conv</c> and its transposes compute, and what the CPU jit
/// calls): operands are checked by the shape rule, brought to channels-first layout, batch groups are rewritten as
/// feature groups, halves run in float32, and float32/float64 run <see cref="ConvKernels"/>.
/// </summary>
internal static class ConvOps
{
    /// <summary>The convolution of <paramref name="lhs"/> with the kernel <paramref name="rhs"/>.</summary>
    public static Tensor Conv(Tensor lhs, Tensor rhs, ConvParams p) => Conv(lhs, rhs, p, null);

    /// <summary>
    /// The convolution, written into <paramref name="into"/> (an array of the result's element type and size, from the
    /// CPU jit's per-call arena) where the kernel's output is the result itself (<see cref="WritesInto"/>); elsewhere a
    /// fresh array.
    /// </summary>
    public static Tensor Conv(Tensor lhs, Tensor rhs, ConvParams p, Array? into)
    {
        ArgumentNullException.ThrowIfNull(lhs);
        ArgumentNullException.ThrowIfNull(rhs);
        var outAval = ConvShape.Conv(p, lhs.Aval, rhs.Aval);
        if (DTypes.IsHalf(outAval.DType)) return Eager.ViaFloat32(outAval.DType, x => Conv(x[0], x[1], p), lhs, rhs);
        var x = First(Eager.To(lhs, outAval.DType), 0, p);
        var w = First(Eager.To(rhs, outAval.DType), 1, p);
        int g = p.FeatureGroups;
        if (p.BatchGroups > 1) { x = BatchGroupsAsFeatureGroups(x, p.BatchGroups); g = p.BatchGroups; }
        var geo = Geometry(p, x.Dims, w.Dims, g);
        Tensor y = outAval.DType == DType.Float64
            ? Eager.Make(ConvKernels.Forward<double>(geo, JitRt.Data<double>(x), JitRt.Data<double>(w), into as double[]), ConvKernels.OutDims(geo))
            : Eager.Make(ConvKernels.Forward<float>(geo, JitRt.Data<float>(x), JitRt.Data<float>(w), into as float[]), ConvKernels.OutDims(geo));
        return Last(y, 2, p);
    }

    /// <summary>The cotangent of Conv's lhs (shaped like <paramref name="lhs"/>) given the output cotangent <paramref name="ct"/>.</summary>
    public static Tensor ConvTransposeLhs(Tensor ct, Tensor rhs, Aval lhs, ConvParams p) => TransposeLhs(ct, rhs, lhs, p, null);

    /// <summary>The lhs cotangent, written into <paramref name="into"/> where <see cref="WritesInto"/> (see <see cref="Conv(Tensor, Tensor, ConvParams, Array)"/>).</summary>
    public static Tensor ConvTransposeLhs(Tensor ct, Tensor rhs, Aval lhs, ConvParams p, Array? into) => TransposeLhs(ct, rhs, lhs, p, into);

    /// <summary>A transposed convolution (<c>Np.ConvTranspose2d</c>): the lhs cotangent of the convolution whose output <paramref name="ct"/> is.</summary>
    public static Tensor ConvTransposeLhs(Tensor ct, Tensor rhs, ConvParams p) => TransposeLhs(ct, rhs, null, p, null);

    internal static Tensor TransposeLhs(Tensor ct, Tensor rhs, Aval? lhs, ConvParams p, Array? into)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(rhs);
        var xAval = ConvShape.TransposeLhs(p, ct.Aval, rhs.Aval, lhs);
        if (DTypes.IsHalf(xAval.DType)) return Eager.ViaFloat32(xAval.DType, x => TransposeLhs(x[0], x[1], lhs, p, null), ct, rhs);
        var gy = First(Eager.To(ct, xAval.DType), 2, p);
        var w = First(Eager.To(rhs, xAval.DType), 1, p);
        var xDims = ConvShape.ToFirst(xAval.Dims, 0, p.ChannelsLast);
        int g = p.FeatureGroups, bg = p.BatchGroups;
        int[] xk = bg > 1 ? [xDims[0] / bg, xDims[1] * bg, .. xDims[2..]] : xDims;
        var geo = Geometry(p, xk, w.Dims, bg > 1 ? bg : g);
        Tensor x = xAval.DType == DType.Float64
            ? Eager.Make(ConvKernels.BackwardData<double>(geo, JitRt.Data<double>(gy), JitRt.Data<double>(w), into as double[]), xk)
            : Eager.Make(ConvKernels.BackwardData<float>(geo, JitRt.Data<float>(gy), JitRt.Data<float>(w), into as float[]), xk);
        if (bg > 1) x = FeatureGroupsAsBatchGroups(x, bg);
        return Last(x, 0, p);
    }

    /// <summary>The cotangent of Conv's kernel (shaped like <paramref name="rhs"/>) given its lhs and the output cotangent <paramref name="ct"/>.</summary>
    public static Tensor ConvTransposeRhs(Tensor lhs, Tensor ct, Aval rhs, ConvParams p) => ConvTransposeRhs(lhs, ct, rhs, p, null);

    /// <summary>The kernel cotangent, written into <paramref name="into"/> where <see cref="WritesInto"/> (see <see cref="Conv(Tensor, Tensor, ConvParams, Array)"/>).</summary>
    public static Tensor ConvTransposeRhs(Tensor lhs, Tensor ct, Aval rhs, ConvParams p, Array? into)
    {
        ArgumentNullException.ThrowIfNull(lhs);
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(rhs);
        var wAval = ConvShape.TransposeRhs(p, lhs.Aval, ct.Aval, rhs);
        if (DTypes.IsHalf(wAval.DType)) return Eager.ViaFloat32(wAval.DType, x => ConvTransposeRhs(x[0], x[1], rhs, p, null), lhs, ct);
        var x = First(Eager.To(lhs, wAval.DType), 0, p);
        var gy = First(Eager.To(ct, wAval.DType), 2, p);
        var wDims = ConvShape.ToFirst(wAval.Dims, 1, p.ChannelsLast);
        int g = p.FeatureGroups;
        if (p.BatchGroups > 1) { x = BatchGroupsAsFeatureGroups(x, p.BatchGroups); g = p.BatchGroups; }
        var geo = Geometry(p, x.Dims, wDims, g);
        Tensor w = wAval.DType == DType.Float64
            ? Eager.Make(ConvKernels.BackwardFilter<double>(geo, JitRt.Data<double>(x), JitRt.Data<double>(gy), into as double[]), wDims)
            : Eager.Make(ConvKernels.BackwardFilter<float>(geo, JitRt.Data<float>(x), JitRt.Data<float>(gy), into as float[]), wDims);
        return Last(w, 1, p);
    }

    /// <summary>Whether a kernel's output array is the result itself (channels-first, no batch groups, float32 or
    /// float64), so a buffer given to it becomes the result: otherwise a permute or regrouping copies it.</summary>
    public static bool WritesInto(ConvParams p, DType d) => !p.ChannelsLast && p.BatchGroups == 1 && d is DType.Float32 or DType.Float64;

    static Tensor First(Tensor t, int role, ConvParams p) =>
        !p.ChannelsLast ? t : Np.Transpose(t, role == 1 ? ConvShape.KernelToFirst(t.Rank) : ConvShape.DataToFirst(t.Rank));

    static Tensor Last(Tensor t, int role, ConvParams p) =>
        !p.ChannelsLast ? t : Np.Transpose(t, role == 1 ? ConvShape.KernelToLast(t.Rank) : ConvShape.DataToLast(t.Rank));

    /// <summary>[G n, C, s...] as [n, G C, s...]: batch group g becomes feature group g (same kernel, same outputs).</summary>
    static Tensor BatchGroupsAsFeatureGroups(Tensor x, int g)
    {
        var d = x.Dims;
        var split = Np.Reshape(x, [g, d[0] / g, .. d[1..]]);
        return Np.Reshape(Np.Transpose(split, [1, 0, .. Enumerable.Range(2, d.Length - 1)]), [d[0] / g, g * d[1], .. d[2..]]);
    }

    static Tensor FeatureGroupsAsBatchGroups(Tensor x, int g)
    {
        var d = x.Dims;
        var split = Np.Reshape(x, [d[0], g, d[1] / g, .. d[2..]]);
        return Np.Reshape(Np.Transpose(split, [1, 0, .. Enumerable.Range(2, d.Length - 1)]), [g * d[0], d[1] / g, .. d[2..]]);
    }

    /// <summary>The geometry of a channels-first convolution with feature groups only, spatial axes padded to three.</summary>
    internal static ConvKernels.Geo Geometry(ConvParams p, int[] x, int[] w, int groups)
    {
        int d = p.Spatial;
        var pFirst = p.ChannelsFirst;
        var y = ConvShape.Out("Lax.Conv", pFirst with { FeatureGroups = groups, BatchGroups = 1 }, x, w, []);
        var (lo, _) = ConvShape.Pads(p, x[2..], w[2..]);
        int[] Pad3(int[] a, int fill) => [.. Enumerable.Repeat(fill, 3 - d), .. a];
        return new ConvKernels.Geo(x[0], x[1], w[0], groups, Pad3(x[2..], 1), Pad3(w[2..], 1), Pad3(y[2..], 1), Pad3(p.Strides, 1),
            Pad3(p.LhsDilation, 1), Pad3(p.RhsDilation, 1), Pad3(lo, 0), d);
    }
}

/// <summary>
/// Convolution kernels on channels-first data with feature groups: im2col then the packed GEMM (<see cref="Gemm"/>).
/// For sample n and group g, <c>cols</c> is the [I K, Y] block whose row (i, k) holds the input element that kernel tap
/// k of input channel i meets at each output position (zero in the padding and between dilated elements); then
/// forward: <c>y[n, g] = W[g] cols</c>; data gradient: <c>cols̄ = W[g]ᵀ ȳ[n, g]</c> scattered back (col2im); kernel
/// gradient: <c>W̄[g] = Σ_n ȳ[n, g] colsᵀ</c>. Samples go in chunks (the columns of several small images make one
/// product), chunks in parallel (up to <see cref="Gemm.MaxThreads"/> threads).
/// </summary>
internal static class ConvKernels
{
    /// <summary>
    /// A convolution's geometry, spatial axes padded in front to three (1-D and 2-D have unit axes there): batch
    /// <see cref="N"/>, input channels <see cref="C"/>, output channels <see cref="O"/>, feature groups <see cref="G"/>,
    /// input, kernel and output extents, strides, lhs and rhs dilation, low padding.
    /// </summary>
    internal sealed record Geo(int N, int C, int O, int G, int[] X, int[] K, int[] Y, int[] S, int[] Dl, int[] Dr, int[] Lo, int D)
    {
        public int I => C / G;
        public int Og => O / G;
        public int Kp => K[0] * K[1] * K[2];
        public int Yp => Y[0] * Y[1] * Y[2];
        public int Xp => X[0] * X[1] * X[2];
        public int Rows => I * Kp;
    }

    public static int[] OutDims(Geo g) => [g.N, g.O, .. g.Y[(3 - g.D)..]];

    static int Threads(Geo g) => (long)g.N * g.O * g.Yp * g.Rows >= 1L << 20 ? Math.Min(Gemm.MaxThreads, g.N) : 1;

    /// <summary>Writes cols [Rows, ld] (columns <paramref name="col0"/> .. + Yp) for input sample <paramref name="x"/>, channels from <paramref name="c0"/>.</summary>
    static void Im2Col<T>(Geo g, ReadOnlySpan<T> x, int c0, Span<T> cols, int ld, int col0) where T : unmanaged, INumber<T>
    {
        if (g.Dl[0] == 1 && g.Dl[1] == 1 && g.Dl[2] == 1) { Im2ColDense(g, x, c0, cols, ld, col0); return; }
        int xp = g.Xp;
        int row = 0;
        for (int i = 0; i < g.I; i++)
        {
            var xc = x.Slice((c0 + i) * xp, xp);
            for (int k0 = 0; k0 < g.K[0]; k0++)
                for (int k1 = 0; k1 < g.K[1]; k1++)
                    for (int k2 = 0; k2 < g.K[2]; k2++, row++)
                    {
                        var dst = cols.Slice(row * ld + col0, g.Yp);
                        int pos = 0;
                        for (int y0 = 0; y0 < g.Y[0]; y0++)
                        {
                            int z0 = y0 * g.S[0] + k0 * g.Dr[0] - g.Lo[0];
                            int i0 = Src(z0, g.Dl[0], g.X[0]);
                            for (int y1 = 0; y1 < g.Y[1]; y1++, pos += g.Y[2])
                            {
                                int z1 = y1 * g.S[1] + k1 * g.Dr[1] - g.Lo[1];
                                int i1 = Src(z1, g.Dl[1], g.X[1]);
                                var line = dst.Slice(pos, g.Y[2]);
                                if (i0 < 0 || i1 < 0) { line.Clear(); continue; }
                                var src = xc.Slice((i0 * g.X[1] + i1) * g.X[2], g.X[2]);
                                Line(src, line, k2 * g.Dr[2] - g.Lo[2], g.S[2], g.Dl[2]);
                            }
                        }
                    }
        }
    }

    /// <summary>
    /// The extents of a convolution without input (lhs) dilation, read once into locals: the row loops of im2col and
    /// col2im run per output line (a 3x3 kernel over 8x8 images makes lines of eight), so reading the geometry's arrays
    /// and slicing spans per line cost more than the copies.
    /// </summary>
    readonly struct Dense
    {
        public readonly int X0, X1, X2, K0, K1, K2, Y0, Y1, Y2, S0, S1, S2, R0, R1, R2, L0, L1, L2, I, Xp, Yp;

        public Dense(Geo g)
        {
            (X0, X1, X2) = (g.X[0], g.X[1], g.X[2]);
            (K0, K1, K2) = (g.K[0], g.K[1], g.K[2]);
            (Y0, Y1, Y2) = (g.Y[0], g.Y[1], g.Y[2]);
            (S0, S1, S2) = (g.S[0], g.S[1], g.S[2]);
            (R0, R1, R2) = (g.Dr[0], g.Dr[1], g.Dr[2]);
            (L0, L1, L2) = (g.Lo[0], g.Lo[1], g.Lo[2]);
            (I, Xp, Yp) = (g.I, g.Xp, g.Yp);
        }

        /// <summary>The outputs j of a line whose input j S2 + off lies inside the row: [lo, hi), empty as lo = hi.</summary>
        public (int Lo, int Hi) Inside(int off)
        {
            int lo = off >= 0 ? 0 : (-off + S2 - 1) / S2;
            int hi = X2 - off <= 0 ? 0 : Math.Min(Y2, (X2 - off - 1) / S2 + 1);
            return lo < hi ? (lo, hi) : (0, 0);
        }
    }

    /// <summary><see cref="Im2Col"/> without lhs dilation: the same rows, written line by line with the geometry in locals.</summary>
    static void Im2ColDense<T>(Geo g, ReadOnlySpan<T> x, int c0, Span<T> cols, int ld, int col0) where T : unmanaged, INumber<T>
    {
        // every index the walk makes stays inside these two ranges (checked once here instead of per element)
        x = x.Slice(c0 * g.Xp, g.I * g.Xp);
        cols = cols.Slice(col0, (g.Rows - 1) * ld + g.Yp);
        WalkDense<T, Gather<T>>(g, ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x), ref System.Runtime.InteropServices.MemoryMarshal.GetReference(cols), ld);
    }

    /// <summary><see cref="Col2Im"/> without lhs dilation (see <see cref="Im2ColDense"/>).</summary>
    static void Col2ImDense<T>(Geo g, ReadOnlySpan<T> cols, int ld, int col0, Span<T> x, int c0) where T : unmanaged, INumber<T>
    {
        x = x.Slice(c0 * g.Xp, g.I * g.Xp);
        cols = cols.Slice(col0, (g.Rows - 1) * ld + g.Yp);
        WalkDense<T, Scatter<T>>(g, ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x), ref System.Runtime.InteropServices.MemoryMarshal.GetReference(cols), ld);
    }

    /// <summary>What im2col and col2im do with one output line of a cols row (see <see cref="WalkDense"/>).</summary>
    interface ILine<T> where T : unmanaged, INumber<T>
    {
        /// <summary>A line whose input row lies in the padding, or none of whose taps is inside the row.</summary>
        static abstract void Outside(ref T line, int width);

        /// <summary>A line whose outputs lo..hi-1 meet input elements x[0], x[s], ...; the others meet padding.</summary>
        static abstract void Inside(ref T line, ref T x, int lo, int hi, int s, int width);
    }

    /// <summary>im2col: the line gets the input elements, zeros in the padding.</summary>
    readonly struct Gather<T> : ILine<T> where T : unmanaged, INumber<T>
    {
        public static void Outside(ref T line, int width)
        {
            for (int j = 0; j < width; j++) Unsafe.Add(ref line, j) = T.Zero;
        }

        public static void Inside(ref T line, ref T x, int lo, int hi, int s, int width)
        {
            for (int j = 0; j < lo; j++) Unsafe.Add(ref line, j) = T.Zero;
            if (s == 1) CopyLine(ref x, ref Unsafe.Add(ref line, lo), hi - lo);
            else for (int j = lo; j < hi; j++) Unsafe.Add(ref line, j) = Unsafe.Add(ref x, (j - lo) * s);
            for (int j = hi; j < width; j++) Unsafe.Add(ref line, j) = T.Zero;
        }
    }

    /// <summary>col2im: the line's values are added to the input elements; padding takes nothing.</summary>
    readonly struct Scatter<T> : ILine<T> where T : unmanaged, INumber<T>
    {
        public static void Outside(ref T line, int width) { }

        public static void Inside(ref T line, ref T x, int lo, int hi, int s, int width)
        {
            if (s == 1) AddLine(ref Unsafe.Add(ref line, lo), ref x, hi - lo);
            else for (int j = lo; j < hi; j++) Unsafe.Add(ref x, (j - lo) * s) += Unsafe.Add(ref line, j);
        }
    }

    /// <summary>
    /// The rows (input channel, kernel tap) of cols, each as Y0 x Y1 lines of Y2 outputs, against the input channels from
    /// <paramref name="xr"/>: for each line, where its taps fall inside the input, <typeparamref name="TOp"/> moves
    /// values between the line and the input row (im2col or col2im).
    /// </summary>
    static void WalkDense<T, TOp>(Geo g, ref T xr, ref T cr, int ld) where T : unmanaged, INumber<T> where TOp : ILine<T>
    {
        var d = new Dense(g);
        int row = 0;
        for (int i = 0; i < d.I; i++)
            for (int k0 = 0; k0 < d.K0; k0++)
                for (int k1 = 0; k1 < d.K1; k1++)
                    for (int k2 = 0; k2 < d.K2; k2++, row++)
                    {
                        int off = k2 * d.R2 - d.L2;
                        var (lo, hi) = d.Inside(off);
                        ref T line = ref Unsafe.Add(ref cr, row * ld);
                        for (int y0 = 0; y0 < d.Y0; y0++)
                        {
                            int z0 = y0 * d.S0 + k0 * d.R0 - d.L0;
                            for (int y1 = 0; y1 < d.Y1; y1++, line = ref Unsafe.Add(ref line, d.Y2))
                            {
                                int z1 = y1 * d.S1 + k1 * d.R1 - d.L1;
                                if ((uint)z0 >= (uint)d.X0 || (uint)z1 >= (uint)d.X1 || lo == hi) TOp.Outside(ref line, d.Y2);
                                else TOp.Inside(ref line, ref Unsafe.Add(ref xr, i * d.Xp + (z0 * d.X1 + z1) * d.X2 + lo * d.S2 + off), lo, hi, d.S2, d.Y2);
                            }
                        }
                    }
    }

    /// <summary>n elements from src to dst (distinct buffers): whole vectors, the last one overlapping the one before
    /// (a line is a few tens of elements: a call to memmove per line cost more than the copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyLine<T>(ref T src, ref T dst, int n) where T : unmanaged
    {
        int v = Vector256<T>.Count;
        if (n < v)
        {
            for (int j = 0; j < n; j++) Unsafe.Add(ref dst, j) = Unsafe.Add(ref src, j);
            return;
        }
        int k = 0;
        for (; k <= n - v; k += v) Vector256.LoadUnsafe(ref src, (nuint)k).StoreUnsafe(ref dst, (nuint)k);
        if (k < n) Vector256.LoadUnsafe(ref src, (nuint)(n - v)).StoreUnsafe(ref dst, (nuint)(n - v));
    }

    /// <summary>dst[j] += src[j] for n elements: whole vectors, then one element at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddLine<T>(ref T src, ref T dst, int n) where T : unmanaged, INumber<T>
    {
        int v = Vector256<T>.Count, k = 0;
        for (; k <= n - v; k += v)
            (Vector256.LoadUnsafe(ref dst, (nuint)k) + Vector256.LoadUnsafe(ref src, (nuint)k)).StoreUnsafe(ref dst, (nuint)k);
        for (; k < n; k++) Unsafe.Add(ref dst, k) += Unsafe.Add(ref src, k);
    }


    /// <summary>The input index of dilated-padded coordinate z, or -1 in the padding or between dilated elements.</summary>
    static int Src(int z, int dl, int x)
    {
        if (z < 0) return -1;
        if (dl == 1) return z < x ? z : -1;
        if (z % dl != 0) return -1;
        z /= dl;
        return z < x ? z : -1;
    }

    /// <summary>line[j] = src at dilated coordinate j s + off (zero outside or between dilated elements).</summary>
    static void Line<T>(ReadOnlySpan<T> src, Span<T> line, int off, int s, int dl) where T : unmanaged, INumber<T>
    {
        int n = line.Length, x = src.Length;
        if (dl == 1)
        {
            // j with 0 <= j s + off < x
            int jLo = off >= 0 ? 0 : (-off + s - 1) / s;
            int jHi = x - off <= 0 ? 0 : Math.Min(n, (x - off - 1) / s + 1);
            if (jLo >= jHi) { line.Clear(); return; }
            line[..jLo].Clear();
            if (s == 1) src.Slice(jLo + off, jHi - jLo).CopyTo(line[jLo..jHi]);
            else for (int j = jLo; j < jHi; j++) line[j] = src[j * s + off];
            line[jHi..].Clear();
            return;
        }
        for (int j = 0; j < n; j++)
        {
            int i = Src(j * s + off, dl, x);
            line[j] = i < 0 ? T.Zero : src[i];
        }
    }

    /// <summary>Adds cols [Rows, Yp] back into input sample <paramref name="x"/> (channels from <paramref name="c0"/>): the transpose of <see cref="Im2Col"/>.</summary>
    static void Col2Im<T>(Geo g, ReadOnlySpan<T> cols, int ld, int col0, Span<T> x, int c0) where T : unmanaged, INumber<T>
    {
        if (g.Dl[0] == 1 && g.Dl[1] == 1 && g.Dl[2] == 1) { Col2ImDense(g, cols, ld, col0, x, c0); return; }
        int xp = g.Xp;
        int row = 0;
        for (int i = 0; i < g.I; i++)
        {
            var xc = x.Slice((c0 + i) * xp, xp);
            for (int k0 = 0; k0 < g.K[0]; k0++)
                for (int k1 = 0; k1 < g.K[1]; k1++)
                    for (int k2 = 0; k2 < g.K[2]; k2++, row++)
                    {
                        var srcRow = cols.Slice(row * ld + col0, g.Yp);
                        int pos = 0;
                        for (int y0 = 0; y0 < g.Y[0]; y0++)
                        {
                            int i0 = Src(y0 * g.S[0] + k0 * g.Dr[0] - g.Lo[0], g.Dl[0], g.X[0]);
                            for (int y1 = 0; y1 < g.Y[1]; y1++, pos += g.Y[2])
                            {
                                int i1 = Src(y1 * g.S[1] + k1 * g.Dr[1] - g.Lo[1], g.Dl[1], g.X[1]);
                                if (i0 < 0 || i1 < 0) continue;
                                var dst = xc.Slice((i0 * g.X[1] + i1) * g.X[2], g.X[2]);
                                var line = srcRow.Slice(pos, g.Y[2]);
                                int off = k2 * g.Dr[2] - g.Lo[2], s = g.S[2], dl = g.Dl[2];
                                for (int j = 0; j < line.Length; j++)
                                {
                                    int t = Src(j * s + off, dl, dst.Length);
                                    if (t >= 0) dst[t] += line[j];
                                }
                            }
                        }
                    }
        }
    }

    /// <summary>C [m, n] = op(A) op(B) through the packed GEMM (a plain loop where vectors are not accelerated).</summary>
    static void Product<T>(T[] A, T[] B, T[] C, int m, int n, int k, bool ta, bool tb) where T : unmanaged, IFloatingPointIeee754<T> =>
        Product(A, 0, B, C, m, n, k, ta, tb);

    /// <summary>The same with A's elements from <paramref name="a0"/> (a group's block of the kernel, not copied out).</summary>
    static void Product<T>(T[] A, int a0, T[] B, T[] C, int m, int n, int k, bool ta, bool tb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated) { Gemm.Multiply(A, a0, B, C, m, n, k, ta, tb, 1); return; }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int q = 0; q < k; q++) s += (ta ? A[a0 + q * m + i] : A[a0 + i * k + q]) * (tb ? B[j * k + q] : B[q * n + j]);
                C[i * n + j] = s;
            }
    }

    /// <summary>Samples per product: enough columns (chunk x Yp, about 4096) for the GEMM when images are small, a cols
    /// buffer of at most <see cref="ColsBudget"/> elements, and at least one chunk per thread.</summary>
    static int Chunk(Geo g, int threads) => Math.Clamp(Math.Min(4096 / Math.Max(1, g.Yp), ColsBudget / Math.Max(1, g.Rows * g.Yp)), 1, Math.Max(1, (g.N + threads - 1) / threads));

    /// <summary>
    /// The most elements a chunk's cols buffer holds (1 MB of float32): it is written by im2col and read back by the
    /// GEMM's packing right after, so it should stay in the core's L2. At 64x16x28x28 (Rows x Yp = 144 x 784) a cols of
    /// 18 samples (8 MB) made the kernel gradient about a fifth slower than 2 samples.
    /// </summary>
    const int ColsBudget = 1 << 18;

    /// <summary>Runs <paramref name="body"/>(first sample, count) over chunks of samples, in parallel where the work is large.</summary>
    static void Chunks(Geo g, Action<int, int> body)
    {
        int threads = Threads(g), chunk = Chunk(g, threads), chunks = (g.N + chunk - 1) / chunk;
        void One(int ch) { int n0 = ch * chunk; body(n0, Math.Min(chunk, g.N - n0)); }
        if (threads > 1 && chunks > 1) Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, One);
        else for (int ch = 0; ch < chunks; ch++) One(ch);
    }

    /// <summary>Sample n's output channels of group q (of an [N, O, Y...] array) into column block j of an [Og, ld] panel.</summary>
    static void ToPanel<T>(Geo g, T[] outs, int n, int q, T[] panel, int ld, int j)
    {
        for (int o = 0; o < g.Og; o++)
            outs.AsSpan((n * g.O + q * g.Og + o) * g.Yp, g.Yp).CopyTo(panel.AsSpan(o * ld + j * g.Yp));
    }

    /// <summary>Column block j of an [Og, ld] panel back into sample n's output channels of group q (the inverse of <see cref="ToPanel"/>).</summary>
    static void FromPanel<T>(Geo g, T[] panel, int ld, int j, T[] outs, int n, int q)
    {
        for (int o = 0; o < g.Og; o++)
            panel.AsSpan(o * ld + j * g.Yp, g.Yp).CopyTo(outs.AsSpan((n * g.O + q * g.Og + o) * g.Yp));
    }

    /// <summary>The forward convolution: out [N, O, Y...]; per chunk of samples and group, cols [Rows, nc Yp] and one product.</summary>
    public static T[] Forward<T>(Geo g, T[] xs, T[] ws, T[]? into = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // every element is written (each sample's output channels from one product's panel): no clearing
        var y = into ?? GC.AllocateUninitializedArray<T>(g.N * g.O * g.Yp);
        Chunks(g, (n0, nc) =>
        {
            var pool = ArrayPool<T>.Shared;
            int ld = nc * g.Yp;
            var cols = pool.Rent(g.Rows * ld);
            var c = pool.Rent(g.Og * ld);
            for (int q = 0; q < g.G; q++)
            {
                for (int j = 0; j < nc; j++)
                    Im2Col<T>(g, xs.AsSpan((n0 + j) * g.C * g.Xp, g.C * g.Xp), q * g.I, cols, ld, j * g.Yp);
                Product(ws, q * g.Og * g.Rows, cols, c, g.Og, ld, g.Rows, false, false);
                for (int j = 0; j < nc; j++) FromPanel(g, c, ld, j, y, n0 + j, q);
            }
            pool.Return(cols);
            pool.Return(c);
        });
        return y;
    }

    /// <summary>The data gradient: x̄ [N, C, X...] from ȳ [N, O, Y...] and the kernel; per chunk, cols̄ = W[g]ᵀ ȳ then col2im.</summary>
    public static T[] BackwardData<T>(Geo g, T[] gys, T[] ws, T[]? into = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // col2im adds into x: a given buffer is cleared first
        var x = into ?? new T[g.N * g.C * g.Xp];
        if (into is not null) Array.Clear(x);
        Chunks(g, (n0, nc) =>
        {
            var pool = ArrayPool<T>.Shared;
            int ld = nc * g.Yp;
            var cols = pool.Rent(g.Rows * ld);
            var b = pool.Rent(g.Og * ld);
            for (int q = 0; q < g.G; q++)
            {
                for (int j = 0; j < nc; j++) ToPanel(g, gys, n0 + j, q, b, ld, j);
                Product(ws, q * g.Og * g.Rows, b, cols, g.Rows, ld, g.Og, true, false);
                for (int j = 0; j < nc; j++)
                    Col2Im<T>(g, cols, ld, j * g.Yp, x.AsSpan((n0 + j) * g.C * g.Xp, g.C * g.Xp), q * g.I);
            }
            pool.Return(cols);
            pool.Return(b);
        });
        return x;
    }

    /// <summary>The kernel gradient: W̄ [O, I, K...] from the lhs and ȳ, summed over samples (chunks of samples per thread, their products' depth N Y).</summary>
    public static T[] BackwardFilter<T>(Geo g, T[] xs, T[] gys, T[]? into = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = g.Og * g.Rows;
        // w is written before it is read (see the workers below), so it is not cleared: on the vmapped CNN, clearing a
        // fresh 1.2 MB result was an eighth of the call
        var w = into ?? GC.AllocateUninitializedArray<T>(g.O * g.Rows);
        int threads = Threads(g);
        // samples per product: enough depth for the GEMM, a bounded cols buffer
        int chunk = Math.Clamp(ColsBudget / Math.Max(1, g.Rows * g.Yp), 1, Math.Max(1, (g.N + threads - 1) / threads));
        int chunks = (g.N + chunk - 1) / chunk;
        threads = Math.Min(threads, chunks);
        if (chunks == 0) { Array.Clear(w); return w; }
        // thread t runs chunks t, t + threads, ...: its first chunk's products are copied into every group's block of its
        // sums, later ones added. Thread 0 sums into w itself (and runs chunk 0, so every block of w is written), the
        // others into rented buffers added at the end (a fresh buffer per thread was a large-object allocation per call
        // at the vmapped CNN's sizes: 2048 x 144 floats)
        var partials = new T[threads][];
        int total = g.O * g.Rows;
        void Worker(int t)
        {
            var pool = ArrayPool<T>.Shared;
            var acc = t == 0 ? w : pool.Rent(total);
            var cols = pool.Rent(g.Rows * chunk * g.Yp);
            var a = pool.Rent(g.Og * chunk * g.Yp);
            var c = pool.Rent(size);
            for (int ch = t; ch < chunks; ch += threads)
            {
                int n0 = ch * chunk, nc = Math.Min(chunk, g.N - n0), ld = nc * g.Yp;
                for (int q = 0; q < g.G; q++)
                {
                    for (int j = 0; j < nc; j++)
                    {
                        int n = n0 + j;
                        Im2Col<T>(g, xs.AsSpan(n * g.C * g.Xp, g.C * g.Xp), q * g.I, cols, ld, j * g.Yp);
                        ToPanel(g, gys, n, q, a, ld, j);
                    }
                    Product(a, cols, c, g.Og, g.Rows, ld, false, true);
                    var dst = acc.AsSpan(q * size, size);
                    if (ch == t) c.AsSpan(0, size).CopyTo(dst);
                    else System.Numerics.Tensors.TensorPrimitives.Add<T>(dst, c.AsSpan(0, size), dst);
                }
            }
            pool.Return(cols);
            pool.Return(a);
            pool.Return(c);
            partials[t] = acc;
        }
        if (threads > 1) Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, Worker);
        else Worker(0);
        for (int t = 1; t < threads; t++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add<T>(w.AsSpan(0, total), partials[t].AsSpan(0, total), w.AsSpan(0, total));
            ArrayPool<T>.Shared.Return(partials[t]);
        }
        return w;
    }
}
