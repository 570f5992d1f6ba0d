using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace Functional.AD;

/// <summary>
/// Generic eager kernels over contiguous row-major buffers. Written once over
/// <c>T : IFloatingPointIeee754&lt;T&gt;</c>; the JIT specialises them for float and double.
/// </summary>
internal static class Kernels
{
    internal static TTo[] Convert<TFrom, TTo>(ReadOnlySpan<TFrom> x)
        where TFrom : unmanaged, INumberBase<TFrom>
        where TTo : unmanaged, INumberBase<TTo>
    {
        var r = new TTo[x.Length];
        TensorPrimitives.ConvertChecked(x, r);
        return r;
    }

    /// <summary>An array the caller overwrites completely, so it need not be zeroed.</summary>
    internal static T[] Alloc<T>(int n) => GC.AllocateUninitializedArray<T>(n);

    internal static int Product(ReadOnlySpan<int> dims, int from = 0, int to = -1)
    {
        if (to < 0) to = dims.Length;
        int p = 1;
        for (int i = from; i < to; i++) p *= dims[i];
        return p;
    }

    /// <summary>Row-major strides of <paramref name="dims"/>, right-aligned to <paramref name="outDims"/>, 0 on broadcast (size-1 or missing) axes.</summary>
    private static int[] BroadcastStrides(int[] dims, int[] outDims)
    {
        int rank = outDims.Length, off = rank - dims.Length;
        var s = new int[rank];
        int stride = 1;
        for (int i = dims.Length - 1; i >= 0; i--)
        {
            s[i + off] = dims[i] == 1 && outDims[i + off] != 1 ? 0 : stride;
            stride *= dims[i];
        }
        return s;
    }

    /// <summary>
    /// Merges adjacent output axes that every operand walks contiguously (or not at all), and drops
    /// size-1 axes, so the innermost loop is as long as possible. Returns the coalesced dims and strides.
    /// </summary>
    private static (int[] Dims, int[][] Strides) Coalesce(int[] outDims, params int[][] strides)
    {
        var dims = new List<int>();
        var ss = strides.Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < outDims.Length; i++)
        {
            if (outDims[i] == 1) continue;
            if (dims.Count > 0)
            {
                int last = dims.Count - 1;
                bool merge = true;
                for (int k = 0; k < strides.Length; k++)
                    if (ss[k][last] != strides[k][i] * outDims[i]) { merge = false; break; }
                if (merge)
                {
                    dims[last] *= outDims[i];
                    for (int k = 0; k < strides.Length; k++) ss[k][last] = strides[k][i];
                    continue;
                }
            }
            dims.Add(outDims[i]);
            for (int k = 0; k < strides.Length; k++) ss[k].Add(strides[k][i]);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            foreach (var s in ss) s.Add(0);
        }
        return (dims.ToArray(), ss.Select(s => s.ToArray()).ToArray());
    }

    /// <summary>The broadcast shape of two shapes, or null when they do not broadcast.</summary>
    internal static int[]? BroadcastShapes(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da == db || db == 1) r[i] = da;
            else if (da == 1) r[i] = db;
            else return null;
        }
        return r;
    }

    /// <summary>Whether <paramref name="from"/> broadcasts to exactly <paramref name="to"/>.</summary>
    internal static bool BroadcastsTo(int[] from, int[] to)
    {
        if (from.Length > to.Length) return false;
        int off = to.Length - from.Length;
        for (int i = 0; i < from.Length; i++)
            if (from[i] != 1 && from[i] != to[i + off]) return false;
        return true;
    }

    // ------------------------------------------------------------------ elementwise

    internal static T[] Unary<T, TOp>(ReadOnlySpan<T> x) where T : unmanaged, INumber<T> where TOp : IUnaryOp
    {
        var r = Alloc<T>(x.Length);
        TOp.Apply(x, r);
        return r;
    }

    internal static T[] FloatUnary<T, TOp>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> where TOp : IFloatUnaryOp
    {
        var r = Alloc<T>(x.Length);
        TOp.Apply(x, r);
        return r;
    }

    /// <summary>Elementwise binary operation with numpy broadcasting into a fresh array of shape <paramref name="od"/>.</summary>
    internal static T[] Binary<T, TOp>(ReadOnlySpan<T> a, int[] ad, ReadOnlySpan<T> b, int[] bd, int[] od)
        where T : unmanaged, INumber<T> where TOp : IBinaryOp
    {
        int n = Product(od);
        var r = Alloc<T>(n);
        if (n == 0) return r;
        if (a.Length == n && b.Length == n) { TOp.VV(a, b, r); return r; }
        if (b.Length == 1 && a.Length == n) { TOp.VS(a, b[0], r); return r; }
        if (a.Length == 1 && b.Length == n) { TOp.SV(a[0], b, r); return r; }

        var (dims, ss) = Coalesce(od, BroadcastStrides(ad, od), BroadcastStrides(bd, od));
        int[] sa = ss[0], sb = ss[1];
        int rank = dims.Length, inner = dims[rank - 1];
        int ia = sa[rank - 1], ib = sb[rank - 1];
        var idx = new int[rank];
        int ao = 0, bo = 0;
        var span = r.AsSpan();
        for (int o = 0; o < n; o += inner)
        {
            var dst = span.Slice(o, inner);
            if (inner < 8)
            {
                for (int j = 0, pa = ao, pb = bo; j < inner; j++, pa += ia, pb += ib) dst[j] = TOp.Apply(a[pa], b[pb]);
            }
            else if (ia == 1 && ib == 1) TOp.VV(a.Slice(ao, inner), b.Slice(bo, inner), dst);
            else if (ia == 1) TOp.VS(a.Slice(ao, inner), b[bo], dst);
            else if (ib == 1) TOp.SV(a[ao], b.Slice(bo, inner), dst);
            else dst.Fill(TOp.Apply(a[ao], b[bo]));
            // advance the odometer over the outer axes
            for (int k = rank - 2; k >= 0; k--)
            {
                idx[k]++;
                ao += sa[k];
                bo += sb[k];
                if (idx[k] < dims[k]) break;
                ao -= sa[k] * dims[k];
                bo -= sb[k] * dims[k];
                idx[k] = 0;
            }
        }
        return r;
    }

    /// <summary>The general strided gather of <paramref name="x"/> broadcast to <paramref name="od"/>.</summary>
    internal static T[] Broadcast<T>(ReadOnlySpan<T> x, int[] xd, int[] od) where T : unmanaged
    {
        int n = Product(od);
        var r = Alloc<T>(n);
        if (n == 0) return r;
        if (x.Length == n) { x.CopyTo(r); return r; }
        if (x.Length == 1) { r.AsSpan().Fill(x[0]); return r; }
        var (dims, ss) = Coalesce(od, BroadcastStrides(xd, od));
        var s = ss[0];
        int rank = dims.Length, inner = dims[rank - 1], ix = s[rank - 1];
        var idx = new int[rank];
        int xo = 0;
        var span = r.AsSpan();
        for (int o = 0; o < n; o += inner)
        {
            var dst = span.Slice(o, inner);
            if (ix == 1) x.Slice(xo, inner).CopyTo(dst);
            else dst.Fill(x[xo]);
            for (int k = rank - 2; k >= 0; k--)
            {
                idx[k]++;
                xo += s[k];
                if (idx[k] < dims[k]) break;
                xo -= s[k] * dims[k];
                idx[k] = 0;
            }
        }
        return r;
    }

    /// <summary><c>c ? a : b</c> with all three broadcast to <paramref name="od"/>.</summary>
    internal static T[] Where<T>(ReadOnlySpan<bool> c, int[] cd, ReadOnlySpan<T> a, int[] ad, ReadOnlySpan<T> b, int[] bd, int[] od)
        where T : unmanaged
    {
        int n = Product(od);
        var r = Alloc<T>(n);
        if (n == 0) return r;
        var (dims, ss) = Coalesce(od, BroadcastStrides(cd, od), BroadcastStrides(ad, od), BroadcastStrides(bd, od));
        int[] sc = ss[0], sa = ss[1], sb = ss[2];
        int rank = dims.Length, inner = dims[rank - 1];
        int ic = sc[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
        var idx = new int[rank];
        int co = 0, ao = 0, bo = 0;
        for (int o = 0; o < n; o += inner)
        {
            for (int j = 0, pc = co, pa = ao, pb = bo; j < inner; j++, pc += ic, pa += ia, pb += ib)
                r[o + j] = c[pc] ? a[pa] : b[pb];
            for (int k = rank - 2; k >= 0; k--)
            {
                idx[k]++;
                co += sc[k]; ao += sa[k]; bo += sb[k];
                if (idx[k] < dims[k]) break;
                co -= sc[k] * dims[k]; ao -= sa[k] * dims[k]; bo -= sb[k] * dims[k];
                idx[k] = 0;
            }
        }
        return r;
    }

    // ------------------------------------------------------------------ reductions

    /// <summary>Rows shorter than this are reduced by a plain loop, not a <see cref="TensorPrimitives"/> call per row.</summary>
    const int SmallRow = 16;

    /// <summary>Sums x viewed as [outer, n, inner] over the middle axis into [outer, inner].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // its loops compiled once, optimised (not by on-stack replacement)
    internal static T[] SumAxis<T>(ReadOnlySpan<T> x, int outer, int n, int inner) where T : unmanaged, INumber<T>
    {
        var r = new T[outer * inner];
        if (n == 0 || r.Length == 0) return r;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) r[o] = TensorPrimitives.Sum(x.Slice(o * n, n));
            return r;
        }
        for (int o = 0; o < outer; o++)
        {
            var dst = r.AsSpan(o * inner, inner);
            int baseIdx = o * n * inner;
            x.Slice(baseIdx, inner).CopyTo(dst);
            if (inner < SmallRow)
            {
                int k = 1;
                if (inner <= Vector256<T>.Count && Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported
                    && baseIdx + Vector256<T>.Count <= x.Length)
                {
                    // a short row fits one vector: the rows are added in a register (lane j adds element j of each
                    // row, in the order of the loop below, which adds the rows too close to the end for a whole
                    // vector); the lanes past the row are not stored
                    ref T x0 = ref MemoryMarshal.GetReference(x);
                    var acc = Vector256.LoadUnsafe(ref x0, (nuint)baseIdx);
                    for (; k < n && baseIdx + k * inner + Vector256<T>.Count <= x.Length; k++)
                        acc += Vector256.LoadUnsafe(ref x0, (nuint)(baseIdx + k * inner));
                    for (int j = 0; j < inner; j++) dst[j] = acc.GetElement(j);
                }
                // short rows: one call per row would cost more than its adds (the same order of additions)
                for (; k < n; k++)
                {
                    var row = x.Slice(baseIdx + k * inner, inner);
                    for (int j = 0; j < dst.Length; j++) dst[j] += row[j];
                }
            }
            else
                for (int k = 1; k < n; k++) TensorPrimitives.Add(dst, x.Slice(baseIdx + k * inner, inner), dst);
        }
        return r;
    }

    /// <summary>Maximum of x viewed as [outer, n, inner] over the middle axis (n &gt; 0); NaN propagates.</summary>
    internal static T[] MaxAxis<T>(ReadOnlySpan<T> x, int outer, int n, int inner) where T : unmanaged, INumber<T>
    {
        var r = Alloc<T>(outer * inner);
        if (r.Length == 0) return r;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) r[o] = TensorPrimitives.Max(x.Slice(o * n, n));
            return r;
        }
        for (int o = 0; o < outer; o++)
        {
            var dst = r.AsSpan(o * inner, inner);
            int baseIdx = o * n * inner;
            x.Slice(baseIdx, inner).CopyTo(dst);
            for (int k = 1; k < n; k++) TensorPrimitives.Max(dst, x.Slice(baseIdx + k * inner, inner), dst);
        }
        return r;
    }

    /// <summary>Index of the first maximum (first NaN if any) of x viewed as [outer, n, inner] over the middle axis (n &gt; 0).</summary>
    internal static int[] ArgmaxAxis<T>(ReadOnlySpan<T> x, int outer, int n, int inner) where T : unmanaged, INumber<T>
    {
        var r = Alloc<int>(outer * inner);
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                r[o] = FirstArgmax(x.Slice(o * n, n));
                continue;
            }
            for (int i = 0; i < inner; i++)
            {
                int baseIdx = o * n * inner + i, best = 0;
                T bv = x[baseIdx];
                if (!T.IsNaN(bv))
                {
                    for (int k = 1; k < n; k++)
                    {
                        var v = x[baseIdx + k * inner];
                        if (T.IsNaN(v)) { best = k; break; }
                        if (v > bv) { bv = v; best = k; }
                    }
                }
                r[o * inner + i] = best;
            }
        }
        return r;
    }

    private static int FirstArgmax<T>(ReadOnlySpan<T> x) where T : unmanaged, INumber<T>
    {
        int best = 0;
        T bv = x[0];
        if (T.IsNaN(bv)) return 0;
        for (int k = 1; k < x.Length; k++)
        {
            var v = x[k];
            if (T.IsNaN(v)) return k;
            if (v > bv) { bv = v; best = k; }
        }
        return best;
    }

    // ------------------------------------------------------------------ data movement

    /// <summary>Permutes axes: <c>out.shape[i] = xd[perm[i]]</c>.</summary>
    internal static T[] Transpose<T>(ReadOnlySpan<T> x, int[] xd, int[] perm) where T : unmanaged
    {
        int n = x.Length;
        var r = Alloc<T>(n);
        if (n == 0) return r;
        int rank = xd.Length;
        var xs = new int[rank];
        for (int i = rank - 1, s = 1; i >= 0; i--) { xs[i] = s; s *= xd[i]; }
        var od = new int[rank];
        var ps = new int[rank];
        for (int i = 0; i < rank; i++) { od[i] = xd[perm[i]]; ps[i] = xs[perm[i]]; }
        var (dims, ss) = Coalesce(od, ps);
        var s0 = ss[0];
        int cr = dims.Length;
        if (cr == 1 && s0[0] == 1) { x.CopyTo(r); return r; }
        int inner = dims[cr - 1], ii = s0[cr - 1];
        if (ii != 1 && cr >= 2)
        {
            // a batch of strided 2-d gathers out[b, p, q] = x[b.., p*rs + q*ii], tiled so both sides stay in cache
            int rows = dims[cr - 2], rs = s0[cr - 2];
            int batch = n / (rows * inner);
            var bdims = dims[..(cr - 2)];
            var bstr = s0[..(cr - 2)];
            var bidx = new int[bdims.Length];
            int xo = 0;
            const int Tile = 32;
            for (int bi = 0; bi < batch; bi++)
            {
                int ob = bi * rows * inner;
                for (int p0 = 0; p0 < rows; p0 += Tile)
                    for (int q0 = 0; q0 < inner; q0 += Tile)
                    {
                        int p1 = Math.Min(p0 + Tile, rows), q1 = Math.Min(q0 + Tile, inner);
                        for (int p = p0; p < p1; p++)
                        {
                            int orow = ob + p * inner, xrow = xo + p * rs;
                            for (int q = q0; q < q1; q++) r[orow + q] = x[xrow + q * ii];
                        }
                    }
                for (int k = bdims.Length - 1; k >= 0; k--)
                {
                    bidx[k]++;
                    xo += bstr[k];
                    if (bidx[k] < bdims[k]) break;
                    xo -= bstr[k] * bdims[k];
                    bidx[k] = 0;
                }
            }
            return r;
        }
        // innermost output axis contiguous in x (or rank 1 after coalescing): copy runs
        var idx = new int[cr];
        int off = 0;
        for (int o = 0; o < n; o += inner)
        {
            if (ii == 1) x.Slice(off, inner).CopyTo(r.AsSpan(o, inner));
            else for (int j = 0, p = off; j < inner; j++, p += ii) r[o + j] = x[p];
            for (int k = cr - 2; k >= 0; k--)
            {
                idx[k]++;
                off += s0[k];
                if (idx[k] < dims[k]) break;
                off -= s0[k] * dims[k];
                idx[k] = 0;
            }
        }
        return r;
    }

    /// <summary>Gathers x viewed as [outer, n, inner] at <paramref name="idx"/> (already wrapped): out [outer, idx.Length, inner].</summary>
    internal static T[] Take<T>(ReadOnlySpan<T> x, int outer, int n, int inner, int[] idx) where T : unmanaged
    {
        int m = idx.Length;
        var r = Alloc<T>(outer * m * inner);
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
                x.Slice((o * n + idx[j]) * inner, inner).CopyTo(r.AsSpan((o * m + j) * inner, inner));
        return r;
    }

    /// <summary>The transpose of <see cref="Take{T}"/>: zeros [outer, n, inner] with g [outer, idx.Length, inner] added at the indices.</summary>
    internal static T[] ScatterAdd<T>(ReadOnlySpan<T> g, int outer, int n, int inner, int[] idx) where T : unmanaged, INumber<T>
    {
        int m = idx.Length;
        var r = new T[outer * n * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < m; j++)
            {
                var dst = r.AsSpan((o * n + idx[j]) * inner, inner);
                TensorPrimitives.Add(dst, g.Slice((o * m + j) * inner, inner), dst);
            }
        return r;
    }

    /// <summary>Copies <paramref name="src"/> viewed as [outer, len] into columns [off, off+len) of dst viewed as [outer, total].</summary>
    internal static void CopyBlock<T>(ReadOnlySpan<T> src, Span<T> dst, int outer, int len, int off, int total) where T : unmanaged
    {
        if (len == 0) return;
        for (int o = 0; o < outer; o++) src.Slice(o * len, len).CopyTo(dst.Slice(o * total + off, len));
    }

    /// <summary>Extracts columns [off, off+len) of src viewed as [outer, total].</summary>
    internal static T[] SliceBlock<T>(ReadOnlySpan<T> src, int outer, int len, int off, int total) where T : unmanaged
    {
        var r = Alloc<T>(outer * len);
        if (len == 0) return r;
        for (int o = 0; o < outer; o++) src.Slice(o * total + off, len).CopyTo(r.AsSpan(o * len, len));
        return r;
    }

    // ------------------------------------------------------------------ matrix products

    /// <summary>
    /// <c>C[m,n] = op(A) op(B)</c>, C zeroed on entry; op(A) is A [m,k] or, when <paramref name="ta"/>, the
    /// transpose of A stored [k,m]; likewise B [k,n] or, when <paramref name="tb"/>, B stored [n,k].
    /// </summary>
    internal static void Gemm<T>(ReadOnlySpan<T> a, bool ta, ReadOnlySpan<T> b, bool tb, Span<T> c, int m, int k, int n)
        where T : unmanaged, INumber<T>
    {
        if (m == 0 || n == 0 || k == 0) return;
        if (ta && tb)
        {
            a = Transpose(a, [k, m], [1, 0]);
            ta = false;
        }
        if (!ta && !tb && n < 8 && k >= 8 && m > 1)
        {
            // narrow B: transpose it once and use row dot products
            b = Transpose(b, [k, n], [1, 0]);
            tb = true;
        }
        if (!ta && !tb)
        {
            for (int i = 0; i < m; i++)
            {
                var crow = c.Slice(i * n, n);
                var arow = a.Slice(i * k, k);
                for (int p = 0; p < k; p++) TensorPrimitives.MultiplyAdd(b.Slice(p * n, n), arow[p], crow, crow);
            }
        }
        else if (!ta && tb)
        {
            for (int i = 0; i < m; i++)
            {
                var arow = a.Slice(i * k, k);
                for (int j = 0; j < n; j++) c[i * n + j] = TensorPrimitives.Dot(arow, b.Slice(j * k, k));
            }
        }
        else
        {
            // ta, !tb: A stored [k,m]; C[i,:] += A[p,i] * B[p,:]
            for (int p = 0; p < k; p++)
            {
                var brow = b.Slice(p * n, n);
                for (int i = 0; i < m; i++)
                {
                    var crow = c.Slice(i * n, n);
                    TensorPrimitives.MultiplyAdd(brow, a[p * m + i], crow, crow);
                }
            }
        }
    }

    /// <summary>
    /// Batched <see cref="Gemm{T}"/>: a has dims <paramref name="ad"/> (rank ≥ 2, last two [m,k], or [k,m] when
    /// <paramref name="ta"/>), b likewise; batch axes broadcast to <paramref name="batch"/>. Returns batch + [m,n].
    /// </summary>
    internal static T[] BatchedGemm<T>(ReadOnlySpan<T> a, int[] ad, bool ta, ReadOnlySpan<T> b, int[] bd, bool tb, int[] batch, int m, int k, int n)
        where T : unmanaged, INumber<T>
    {
        int nb = Product(batch);
        var r = new T[nb * m * n];
        int aMat = ad[^1] * ad[^2], bMat = bd[^1] * bd[^2];
        var aBatch = ad.AsSpan(0, ad.Length - 2).ToArray();
        var bBatch = bd.AsSpan(0, bd.Length - 2).ToArray();
        var sa = BroadcastStrides(aBatch, batch);
        var sb = BroadcastStrides(bBatch, batch);
        var idx = new int[batch.Length];
        int ao = 0, bo = 0;
        for (int t = 0; t < nb; t++)
        {
            Gemm(a.Slice(ao * aMat, aMat), ta, b.Slice(bo * bMat, bMat), tb, r.AsSpan(t * m * n, m * n), m, k, n);
            for (int q = batch.Length - 1; q >= 0; q--)
            {
                idx[q]++;
                ao += sa[q];
                bo += sb[q];
                if (idx[q] < batch[q]) break;
                ao -= sa[q] * batch[q];
                bo -= sb[q] * batch[q];
                idx[q] = 0;
            }
        }
        return r;
    }

    /// <summary><c>out[i,j] = a[i] b[j]</c>.</summary>
    internal static T[] Outer<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, INumber<T>
    {
        int m = a.Length, n = b.Length;
        var r = Alloc<T>(m * n);
        for (int i = 0; i < m; i++) TensorPrimitives.Multiply(b, a[i], r.AsSpan(i * n, n));
        return r;
    }
}
