using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.AD;

/// <summary>
/// A blocked, packed matrix product C = op(A) op(B), op = identity or transpose (Dot/MatMul and the transposes that
/// reverse mode makes of them, without materialising a transpose). B is packed in panels of <c>NR</c> columns and A in
/// panels of <c>MR</c> rows, both for a <c>KC</c>-deep slice of k; a micro-kernel keeps an MR x NR tile of C in
/// registers and does one fused multiply-add per register per k: with AVX-512, 8 x 2 Vector512 (16 accumulators of
/// 32); with AVX2 only, 6 x 2 Vector256 (12 accumulators of AVX2's 16 registers, the widest tile that does not
/// spill). Large products split the rows of C into blocks shared by up to <see cref="MaxThreads"/> threads. Accumulation order differs from the eager kernel's,
/// so results agree within rounding.
/// </summary>
internal static class Gemm
{
    const int KC = 384, MC = 96, NC = 4096;
    /// <summary>Whether 512-bit vectors are accelerated (AVX-512): then the tile is 8 x 2 Vector512; otherwise 6 x 2 Vector256 (AVX2, 16 registers).</summary>
    static readonly bool Wide = Vector512.IsHardwareAccelerated;
    /// <summary>Rows of the register tile.</summary>
    static readonly int MR = Wide ? 8 : 6;
    /// <summary>Columns of the register tile: two vectors.</summary>
    static int NR<T>() where T : unmanaged => 2 * (Wide ? Vector512<T>.Count : Vector256<T>.Count);
    /// <summary>Products with fewer multiply-adds stay with the eager kernel (packing would cost more than it saves).</summary>
    const long MinWork = 16 * 1024;
    /// <summary>Products with at least this many multiply-adds use several threads.</summary>
    internal static long ParallelWork = 1L << 21;
    /// <summary>Most threads a product may use (a benchmark sets 1 to measure one core).</summary>
    internal static int MaxThreads = Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Whether node <paramref name="n"/> (a 2-D by 2-D product of one dtype) goes to this kernel.</summary>
    public static bool Fits(Node n, Aval a, Dictionary<Node, Aval?> av, bool ta, bool tb)
    {
        if (!Vector512.IsHardwareAccelerated && !Vector256.IsHardwareAccelerated) return false;
        if (n.Args.Length < 2 || av[n.Args[0]] is not { } x || av[n.Args[1]] is not { } y) return false;
        if (x.Rank != 2 || y.Rank != 2 || a.Rank != 2 || x.DType != a.DType || y.DType != a.DType || a.Weak) return false;
        int m = ta ? x.Dims[1] : x.Dims[0], k = ta ? x.Dims[0] : x.Dims[1];
        int k2 = tb ? y.Dims[1] : y.Dims[0], nn = tb ? y.Dims[0] : y.Dims[1];
        return k == k2 && a.Dims[0] == m && a.Dims[1] == nn && (long)m * nn * k >= MinWork;
    }

    /// <summary>The product into <paramref name="C"/> (a buffer of the right size, any content), adopted as a tensor of shape <paramref name="dims"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Tensor ProductInto<T>(Tensor a, Tensor b, bool ta, bool tb, int[] dims, T[] C) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var A = JitRt.Data<T>(a);
        var B = JitRt.Data<T>(b);
        int m = dims[0], n = dims[1], k = ta ? a.Dims[0] : a.Dims[1];
        Multiply<T>(A, B, C, m, n, k, ta, tb, (long)m * n * k >= ParallelWork ? MaxThreads : 1);
        return Tensor.Adopt(C, dims);
    }

    /// <summary>C (m x n, row-major) = op(A) op(B); C's previous content is ignored.</summary>
    public static void Multiply<T>(T[] A, T[] B, T[] C, int m, int n, int k, bool ta, bool tb, int threads) where T : unmanaged, IFloatingPointIeee754<T> =>
        Multiply(A, 0, B, C, m, n, k, ta, tb, threads);

    /// <summary>The same, with A's m x k (or k x m) elements starting at <paramref name="aOffset"/> (one group's block of a grouped convolution's kernel).</summary>
    public static void Multiply<T>(T[] A, int aOffset, T[] B, T[] C, int m, int n, int k, bool ta, bool tb, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if ((uint)aOffset > (uint)A.Length || A.Length - aOffset < (long)m * k) throw new ArgumentOutOfRangeException(nameof(aOffset));
        if (k == 0) { Array.Clear(C, 0, m * n); return; }
        int nr = NR<T>();
        var pool = ArrayPool<T>.Shared;
        // rows per block: MC, or fewer so that there are about 4 blocks per thread (128 rows on 2 threads: 8 x 18, not
        // 96 + 32): the threads share the blocks through Parallel.For's counter, so a thread that is descheduled on a
        // busy machine holds up at most one small block
        int mcb = MC;
        if (threads > 1)
        {
            int per = (m + 4 * threads - 1) / (4 * threads);
            per = Math.Max(2 * MR, (per + MR - 1) / MR * MR);
            if (per < MC) mcb = per;
        }
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            int panelsB = (nc + nr - 1) / nr;
            // k-blocks of equal depth (512 = 256 + 256, not 384 + 128: a shallow last block pays the C tile's loads and
            // stores for little work)
            int kcb = k <= KC ? k : (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
            for (int pc = 0; pc < k; pc += kcb)
            {
                int kc = Math.Min(kcb, k - pc);
                var pb = pool.Rent(panelsB * kc * nr);
                PackB(B, pb, k, n, pc, kc, jc, nc, nr, tb);
                int blocks = (m + mcb - 1) / mcb;
                if (threads > 1 && blocks > 1)
                    Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, bi => Block(A, aOffset, pb, C, m, n, k, ta, bi * mcb, mcb, pc, kc, jc, nc, nr));
                else
                    for (int bi = 0; bi < blocks; bi++) Block(A, aOffset, pb, C, m, n, k, ta, bi * mcb, mcb, pc, kc, jc, nc, nr);
                pool.Return(pb);
            }
        }
    }

    static void Block<T>(T[] A, int aOffset, T[] pb, T[] C, int m, int n, int k, bool ta, int ic, int mcb, int pc, int kc, int jc, int nc, int nr) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int MR = Gemm.MR;
        int mc = Math.Min(mcb, m - ic);
        int panelsA = (mc + MR - 1) / MR;
        var pool = ArrayPool<T>.Shared;
        var pa = pool.Rent(panelsA * kc * MR);
        PackA(A, aOffset, pa, m, k, ic, mc, pc, kc, ta);
        Span<T> tile = stackalloc T[8 * 64];
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nn = Math.Min(nr, nc - jr);
            ref T bp = ref pb[(jr / nr) * kc * nr];
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mm = Math.Min(MR, mc - ir);
                ref T ap = ref pa[(ir / MR) * kc * MR];
                if (mm == MR && nn == nr)
                {
                    // the first k-block overwrites C's tile (cleared here, in L1 for the kernel's loads): C need not be zeroed
                    if (pc == 0)
                        for (int i = 0; i < MR; i++) C.AsSpan((ic + ir + i) * n + jc + jr, nr).Clear();
                    Tile(ref ap, ref bp, kc, ref C[(ic + ir) * n + jc + jr], n);
                }
                else
                {
                    tile.Clear();
                    Tile(ref ap, ref bp, kc, ref MemoryMarshal.GetReference(tile), nr);
                    for (int i = 0; i < mm; i++)
                        for (int j = 0; j < nn; j++)
                        {
                            ref T c = ref C[(ic + ir + i) * n + jc + jr + j];
                            c = pc == 0 ? tile[i * nr + j] : c + tile[i * nr + j];
                        }
                }
            }
        }
        pool.Return(pa);
    }

    /// <summary>Packs op(A)[ic..ic+mc, pc..pc+kc] as panels of MR rows: panel p holds, for each k, its MR elements (zero-padded).</summary>
    static void PackA<T>(T[] A, int aOffset, T[] pa, int m, int k, int ic, int mc, int pc, int kc, bool ta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int MR = Gemm.MR;
        ref T src = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(A), aOffset);
        for (int ir = 0, p = 0; ir < mc; ir += MR, p++)
        {
            int mm = Math.Min(MR, mc - ir);
            ref T dst = ref pa[p * kc * MR];
            if (mm < MR) new Span<T>(pa, p * kc * MR, kc * MR).Clear();
            if (ta)
            {
                // op(A) = A^T, A is k x m: for each k the panel's rows are contiguous in A
                for (int kk = 0; kk < kc; kk++)
                {
                    ref T from = ref Unsafe.Add(ref src, (nint)(pc + kk) * m + ic + ir);
                    ref T to = ref Unsafe.Add(ref dst, kk * MR);
                    for (int i = 0; i < mm; i++) Unsafe.Add(ref to, i) = Unsafe.Add(ref from, i);
                }
            }
            else
            {
                // A is m x k: each row of the panel is contiguous along k; write it with stride MR
                for (int i = 0; i < mm; i++)
                {
                    ref T from = ref Unsafe.Add(ref src, (nint)(ic + ir + i) * k + pc);
                    ref T to = ref Unsafe.Add(ref dst, i);
                    for (int kk = 0; kk < kc; kk++) Unsafe.Add(ref to, kk * MR) = Unsafe.Add(ref from, kk);
                }
            }
        }
    }

    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] as panels of nr columns: panel q holds, for each k, its nr elements (zero-padded).</summary>
    static void PackB<T>(T[] B, T[] pb, int k, int n, int pc, int kc, int jc, int nc, int nr, bool tb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T src = ref MemoryMarshal.GetArrayDataReference(B);
        for (int jr = 0, q = 0; jr < nc; jr += nr, q++)
        {
            int nn = Math.Min(nr, nc - jr);
            ref T dst = ref pb[q * kc * nr];
            if (nn < nr) new Span<T>(pb, q * kc * nr, kc * nr).Clear();
            if (tb && typeof(T) == typeof(float) && nn == nr && kc >= 8 && Avx.IsSupported)
                PackTransposed(ref Unsafe.As<T, float>(ref Unsafe.Add(ref src, (nint)(jc + jr) * k + pc)), k, ref Unsafe.As<T, float>(ref dst), kc, nr);
            else if (tb)
            {
                // op(B) = B^T, B is n x k: each column of the panel is contiguous along k; write it with stride nr
                for (int j = 0; j < nn; j++)
                {
                    ref T from = ref Unsafe.Add(ref src, (nint)(jc + jr + j) * k + pc);
                    ref T to = ref Unsafe.Add(ref dst, j);
                    for (int kk = 0; kk < kc; kk++) Unsafe.Add(ref to, kk * nr) = Unsafe.Add(ref from, kk);
                }
            }
            else if (nn == nr)
            {
                // B is k x n: for each k the panel's nr elements are contiguous: whole vectors
                int V = Vector256<T>.Count;
                for (int kk = 0; kk < kc; kk++)
                {
                    ref T from = ref Unsafe.Add(ref src, (nint)(pc + kk) * n + jc + jr);
                    ref T to = ref Unsafe.Add(ref dst, kk * nr);
                    for (int j = 0; j < nr; j += V) Vector256.LoadUnsafe(ref from, (nuint)j).StoreUnsafe(ref to, (nuint)j);
                }
            }
            else
            {
                for (int kk = 0; kk < kc; kk++)
                {
                    ref T from = ref Unsafe.Add(ref src, (nint)(pc + kk) * n + jc + jr);
                    ref T to = ref Unsafe.Add(ref dst, kk * nr);
                    for (int j = 0; j < nn; j++) Unsafe.Add(ref to, j) = Unsafe.Add(ref from, j);
                }
            }
        }
    }

    /// <summary>
    /// A whole panel of B^T (nr rows of B, each contiguous along k with stride <paramref name="k"/>) packed as kc rows of
    /// nr: 8 x 8 blocks loaded as eight vectors along k, transposed in registers and stored as eight vectors along the
    /// panel's row (a scalar copy with stride nr was a fifth of a convolution's kernel gradient); the last kc mod 8 rows
    /// one element at a time.
    /// </summary>
    static void PackTransposed(ref float from, int k, ref float to, int kc, int nr)
    {
        int k8 = kc & ~7;
        for (int j = 0; j < nr; j += 8)
        {
            ref float rows = ref Unsafe.Add(ref from, (nint)j * k);
            for (int kk = 0; kk < k8; kk += 8)
            {
                ref float r = ref Unsafe.Add(ref rows, kk);
                var r0 = Vector256.LoadUnsafe(ref r); var r1 = Vector256.LoadUnsafe(ref r, (nuint)k);
                var r2 = Vector256.LoadUnsafe(ref r, (nuint)(2 * k)); var r3 = Vector256.LoadUnsafe(ref r, (nuint)(3 * k));
                var r4 = Vector256.LoadUnsafe(ref r, (nuint)(4 * k)); var r5 = Vector256.LoadUnsafe(ref r, (nuint)(5 * k));
                var r6 = Vector256.LoadUnsafe(ref r, (nuint)(6 * k)); var r7 = Vector256.LoadUnsafe(ref r, (nuint)(7 * k));
                LaneRows.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                ref float d = ref Unsafe.Add(ref to, (nint)kk * nr + j);
                r0.StoreUnsafe(ref d); r1.StoreUnsafe(ref d, (nuint)nr);
                r2.StoreUnsafe(ref d, (nuint)(2 * nr)); r3.StoreUnsafe(ref d, (nuint)(3 * nr));
                r4.StoreUnsafe(ref d, (nuint)(4 * nr)); r5.StoreUnsafe(ref d, (nuint)(5 * nr));
                r6.StoreUnsafe(ref d, (nuint)(6 * nr)); r7.StoreUnsafe(ref d, (nuint)(7 * nr));
            }
            for (int jj = j; jj < j + 8; jj++)
            {
                ref float row = ref Unsafe.Add(ref from, (nint)jj * k);
                for (int kk = k8; kk < kc; kk++) Unsafe.Add(ref to, (nint)kk * nr + jj) = Unsafe.Add(ref row, kk);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile<T>(ref T a, ref T b, int kc, ref T c, int ldc) where T : unmanaged
    {
        if (Wide) Kernel(ref a, ref b, kc, ref c, ldc);
        else Kernel6(ref a, ref b, kc, ref c, ldc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    /// <summary>C[0..6, 0..2V] += packed A panel x packed B panel over kc: a 6 x 2-vector Vector256 tile (12 accumulators, AVX2's 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel6<T>(ref T a, ref T b, int kc, ref T c, int ldc) where T : unmanaged
    {
        int V = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
                     c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        ref T ap = ref a, bp = ref b;
        for (int kk = 0; kk < kc; kk++)
        {
            var b0 = Vector256.LoadUnsafe(ref bp);
            var b1 = Vector256.LoadUnsafe(ref bp, (nuint)V);
            var x = Vector256.Create(ap);
            c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref ap, 1));
            c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref ap, 2));
            c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref ap, 3));
            c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = Vector256.Create(Unsafe.Add(ref ap, 4));
            c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = Vector256.Create(Unsafe.Add(ref ap, 5));
            c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
            ap = ref Unsafe.Add(ref ap, 6);
            bp = ref Unsafe.Add(ref bp, 2 * V);
        }
        Store(ref c, 0, ldc, V, c00, c01); Store(ref c, 1, ldc, V, c10, c11);
        Store(ref c, 2, ldc, V, c20, c21); Store(ref c, 3, ldc, V, c30, c31);
        Store(ref c, 4, ldc, V, c40, c41); Store(ref c, 5, ldc, V, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(ref T c, int row, int ldc, int V, Vector256<T> v0, Vector256<T> v1) where T : unmanaged
    {
        nuint o = (nuint)(row * ldc);
        (Vector256.LoadUnsafe(ref c, o) + v0).StoreUnsafe(ref c, o);
        (Vector256.LoadUnsafe(ref c, o + (nuint)V) + v1).StoreUnsafe(ref c, o + (nuint)V);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    /// <summary>C[0..8, 0..2V] += packed A panel x packed B panel over kc (an 8 x 2-vector register tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel<T>(ref T a, ref T b, int kc, ref T c, int ldc) where T : unmanaged
    {
        int V = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                     c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        nuint ai = 0, bi = 0;
        for (int kk = 0; kk < kc; kk++, ai += 8, bi += (nuint)(2 * V))
        {
            var b0 = Vector512.LoadUnsafe(ref b, bi);
            var b1 = Vector512.LoadUnsafe(ref b, bi + (nuint)V);
            var x = Vector512.Create(Unsafe.Add(ref a, ai));
            c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 1));
            c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 2));
            c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 3));
            c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 4));
            c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 5));
            c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 6));
            c60 = Fma(x, b0, c60); c61 = Fma(x, b1, c61);
            x = Vector512.Create(Unsafe.Add(ref a, ai + 7));
            c70 = Fma(x, b0, c70); c71 = Fma(x, b1, c71);
        }
        Store(ref c, 0, ldc, V, c00, c01); Store(ref c, 1, ldc, V, c10, c11);
        Store(ref c, 2, ldc, V, c20, c21); Store(ref c, 3, ldc, V, c30, c31);
        Store(ref c, 4, ldc, V, c40, c41); Store(ref c, 5, ldc, V, c50, c51);
        Store(ref c, 6, ldc, V, c60, c61); Store(ref c, 7, ldc, V, c70, c71);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(ref T c, int row, int ldc, int V, Vector512<T> v0, Vector512<T> v1) where T : unmanaged
    {
        nuint o = (nuint)(row * ldc);
        (Vector512.LoadUnsafe(ref c, o) + v0).StoreUnsafe(ref c, o);
        (Vector512.LoadUnsafe(ref c, o + (nuint)V) + v1).StoreUnsafe(ref c, o + (nuint)V);
    }
}
