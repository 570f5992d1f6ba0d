namespace Functional.AD;

/// <summary>
/// The shapes and the unrolled terms of the three slots of the vector and matrix product (<c>Dot</c>, and its cotangent
/// slots <see cref="Lax.DotTA"/>, <see cref="Lax.DotTB"/>), declared with them (<see cref="Primitive.KnownAval"/>,
/// <see cref="CpuLowering.ProductTerms"/>): shape inference and the CPU jit find both without running the eager kernels,
/// whose first runs a fresh process would otherwise JIT-compile.
/// </summary>
internal static class DotRules
{
    /// <summary><c>Dot(a, b)</c>: a[..., k] with b[k] or b[k, n] (a and b vectors or matrices): a's other axis, then b's.</summary>
    public static int[]? DotDims(int[] x, int[] y)
    {
        if (x.Length is not (1 or 2) || y.Length is not (1 or 2) || x[^1] != y[0]) return null;
        var r = new int[x.Length + y.Length - 2];
        if (x.Length == 2) r[0] = x[0];
        if (y.Length == 2) r[^1] = y[1];
        return r;
    }

    /// <summary><c>DotTA(g, b)</c>, the cotangent of Dot's a.</summary>
    public static int[]? DotTADims(int[] x, int[] y) => (x.Length, y.Length) switch
    {
        (0, 1) => [y[0]],
        (1, 2) when x[0] == y[1] => [y[0]],
        (1, 1) => [x[0], y[0]],
        (2, 2) when x[1] == y[1] => [x[0], y[0]],
        _ => null,
    };

    /// <summary><c>DotTB(a, g)</c>, the cotangent of Dot's b.</summary>
    public static int[]? DotTBDims(int[] x, int[] y) => (x.Length, y.Length) switch
    {
        (1, 0) => [x[0]],
        (1, 1) => [x[0], y[0]],
        (2, 1) when x[0] == y[0] => [x[1]],
        (2, 2) when x[0] == y[0] => [x[1], y[1]],
        _ => null,
    };

    /// <summary>
    /// The terms of each output element, written down instead of probed: the same terms, in the same order, as running
    /// the eager kernel on one-hot operands gives (per output element, ascending in the first operand's element, then
    /// the second's), so the unrolled code is the same. Called with shapes its <c>...Dims</c> rule accepts.
    /// </summary>
    public static ProbeCache.Term[][] DotTerms(int[] x, int[] y)
    {
        // a [M, K] (M = 1 for a vector), b [K, N] (N = 1 for a vector): out[r, c] = sum_t a[r, t] b[t, c]
        int k = x[^1], m = x.Length == 2 ? x[0] : 1, n = y.Length == 2 ? y[1] : 1;
        return Sum(m, n, k, (r, c, t) => (r * k + t, t * n + c), (r, c) => r * n + c);
    }

    /// <inheritdoc cref="DotTerms"/>
    public static ProbeCache.Term[][] DotTATerms(int[] x, int[] y)
    {
        switch (x.Length, y.Length)
        {
            case (0, 1): return Sum(1, y[0], 1, (_, c, _) => (0, c), (_, c) => c);                                                 // g * b
            case (1, 2): { int n = y[1]; return Sum(y[0], 1, n, (r, _, t) => (t, r * n + t), (r, _) => r); }                      // b @ g
            case (1, 1): { int n = y[0]; return Sum(x[0], n, 1, (r, c, _) => (r, c), (r, c) => r * n + c); }                      // outer(g, b)
            default: { int n = x[1], kk = y[0]; return Sum(x[0], kk, n, (r, c, t) => (r * n + t, c * n + t), (r, c) => r * kk + c); }   // g @ b^T
        }
    }

    /// <inheritdoc cref="DotTerms"/>
    public static ProbeCache.Term[][] DotTBTerms(int[] x, int[] y)
    {
        switch (x.Length, y.Length)
        {
            case (1, 0): return Sum(x[0], 1, 1, (r, _, _) => (r, 0), (r, _) => r);                                                 // a * g
            case (1, 1): { int n = y[0]; return Sum(x[0], n, 1, (r, c, _) => (r, c), (r, c) => r * n + c); }                      // outer(a, g)
            case (2, 1): { int k = x[1]; return Sum(k, 1, x[0], (r, _, t) => (t * k + r, t), (r, _) => r); }                       // a^T g
            default: { int k = x[1], n = y[1]; return Sum(k, n, x[0], (r, c, t) => (t * k + r, t * n + c), (r, c) => r * n + c); }   // a^T @ g
        }
    }

    /// <summary>out[outIndex(r, c)] = sum over t &lt; k of a[i] * b[j], (i, j) = index(r, c, t); i grows with t, as in a probe.</summary>
    static ProbeCache.Term[][] Sum(int m, int n, int k, Func<int, int, int, (int I, int J)> index, Func<int, int, int> outIndex)
    {
        var terms = new ProbeCache.Term[m * n][];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
            {
                var ts = new ProbeCache.Term[k];
                for (int t = 0; t < k; t++) { var (i, j) = index(r, c, t); ts[t] = new ProbeCache.Term(1, 0, i, j); }
                terms[outIndex(r, c)] = ts;
            }
        return terms;
    }
}
