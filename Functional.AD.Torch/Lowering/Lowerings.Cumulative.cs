using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

// The Torch column of the product and cumulative vocabulary (Primitives/Prims.Cumulative.cs): libtorch's prod, cumsum,
// cumprod, cummax and logcumsumexp (reversed by flipping the axis), and the linear recurrence as a log-depth scan of
// libtorch products and sums.
internal static partial class Lowerings
{
    /// <summary>A cumulative op along the node's axis (parameters: axis, reverse), flipping the axis around it when reversed.</summary>
    static TT Along(LowerCtx c, TT x, Func<TT, long, TT> op)
    {
        long ax = c.Axis(c.P.Get<int>(0), c.In[0].Rank);
        if (!c.P.Get<bool>(1)) return op(x, ax);
        return op(x.flip(ax), ax).flip(ax);
    }

    /// <summary>
    /// <c>h[i] = a[i] h[i-1] + b[i]</c> along an axis as a Hillis–Steele scan: after the step of distance d, position i
    /// holds the pair (A, B) with <c>h[i] = A · h[i-d'] + B</c> over the last 2d positions; combining with position
    /// i - d is <c>(A_i A_{i-d}, A_i B_{i-d} + B_i)</c>. a at the first position is set to 0 (it is not used). ⌈log₂ n⌉
    /// steps of multiplications and additions, no division.
    /// </summary>
    static TT Recurrence(TT a, TT b, long ax, long n, Device device)
    {
        if (n <= 1) return b.clone();
        var A = torch.cat([torch.zeros_like(a.narrow(ax, 0, 1)), a.narrow(ax, 1, n - 1)], ax);
        var B = b;
        for (long d = 1; d < n; d *= 2)
        {
            var aHi = A.narrow(ax, d, n - d);
            B = torch.cat([B.narrow(ax, 0, d), B.narrow(ax, d, n - d) + aHi * B.narrow(ax, 0, n - d)], ax);
            if (2 * d < n) A = torch.cat([A.narrow(ax, 0, d), aHi * A.narrow(ax, 0, n - d)], ax);
        }
        return B;
    }

    /// <summary>The dtype a scan or product computes in: the result's, float32 for the halves (as the CPU backend computes them, one rounding at the end).</summary>
    static ScalarType Wide(LowerCtx c) => DTypes.IsHalf(c.Out.DType) ? ScalarType.Float32 : c.OutType;

    /// <summary><paramref name="f"/> of x, bools moved as uint8 (libtorch's index_add and diag take no bools); the compiler converts the result back.</summary>
    static TT Byte(TT x, Func<TT, TT> f) => f(x.dtype == ScalarType.Bool ? x.to_type(ScalarType.Byte) : x);

    /// <summary>The entries of the product and cumulative vocabulary.</summary>
    static IEnumerable<KeyValuePair<Primitive, TorchLowering>> CumulativeVocabulary => new Dictionary<Primitive, TorchLowering>
    {
        [Prims.Prod] = Op((c, x) =>
        {
            // libtorch multiplies bools and integers as int64; the compiler converts the result to the declared dtype
            var v = x[0]!.dtype == ScalarType.Bool ? x[0]!.to_type(ScalarType.Int32) : x[0]!.to_type(Wide(c));
            return Reduce(c, v, (t, a) => t.prod(a, false, t.dtype), t => t.prod(t.dtype));
        }),
        [Prims.Cumsum] = Op((c, x) => Along(c, x[0]!, (t, a) => t.cumsum(a, Wide(c)))),
        [Prims.Cumprod] = Op((c, x) => Along(c, x[0]!, (t, a) => t.cumprod(a, Wide(c)))),
        [Prims.Cummax] = Op((c, x) =>
        {
            // cummax on bools runs as uint8 (0/1) and converts back
            var v = x[0]!.dtype == ScalarType.Bool ? x[0]!.to_type(ScalarType.Byte) : x[0]!;
            return Along(c, v, (t, a) => torch.cummax(t, a).values).to_type(c.OutType);
        }),
        [Prims.CumLogSumExp] = Op((c, x) => Along(c, x[0]!.to_type(Wide(c)), (t, a) => t.logcumsumexp(a))),
        [Prims.LinearRecurrence] = Op((c, x) =>
        {
            long ax = c.Axis(c.P.Get<int>(0), c.Out.Rank);
            long n = c.Out.Dims[ax];
            var a = x[0]!.to_type(Wide(c)).expand(c.OutDims);
            var b = x[1]!.to_type(Wide(c)).expand(c.OutDims);
            if (!c.P.Get<bool>(1)) return Recurrence(a, b, ax, n, c.Device);
            return Recurrence(a.flip(ax), b.flip(ax), ax, n, c.Device).flip(ax);
        }),
        // diagonals: libtorch's diag (vector to matrix, matrix to diagonal); the transpose onto a matrix by index_add
        [Prims.Diag] = Op((c, x) => Byte(x[0]!, t => torch.diag(t, c.P.Get<int>(0)))),
        [Prims.DiagTranspose] = Op((c, x) =>
        {
            int k = c.P.Get<int>(0);
            var xa = c.In[1];
            if (xa.Rank == 1) return Byte(x[0]!, t => torch.diag(t, k));
            int m = xa.Dims[0], n = xa.Dims[1];
            var (l, r, col) = Np.DiagonalOf(m, n, k);
            var idx = IndexVector(Enumerable.Range(0, l).Select(i => (r + i) * n + col + i).ToArray(), c);
            return Byte(x[0]!, t => torch.zeros([m * n], t.dtype, c.Device).index_add(0, idx, t, 1.0).reshape(m, n));
        }),
    };
}
