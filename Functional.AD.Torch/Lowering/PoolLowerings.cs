using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// The Torch column of the window primitives (pooling; see <c>Prims.Pool.cs</c>), merged into <see cref="Lowerings.Table"/>.
/// <para>libtorch's own pooling kernels where their semantics are ours: a window over the last one, two or three axes (the
/// leading axes unpooled, folded into one), symmetric padding of at most half the window, float32 or float64. Max pools
/// run <c>max_pool2d</c>/<c>max_pool3d</c>; the tangent and cotangent at the maxima use the indices of <c>max_pool2d_with_indices</c>
/// (libtorch keeps the first maximum of a window in row-major order, as JAX's select-and-scatter does: a property checks
/// ties) with <c>gather</c> and <c>scatter_add</c>; mean and sum pools run <c>avg_pool2d</c> (<c>count_include_pad</c>, the sum
/// with divisor 1) and the sum's transpose libtorch's <c>avg_pool2d_backward</c>.</para>
/// <para>Everything else (integers, halves, three or more pooled axes, asymmetric or wide padding, a dilated mean) is
/// composed from <c>pad</c> and <c>unfold</c>: the windows become a last axis of length <c>prod(window)</c> in
/// row-major window order, reduced by <c>amax</c>/<c>sum</c>/<c>mean</c>; <c>argmax</c> (the first maximum, the first
/// NaN) selects; the scatters add into a flat buffer through the windows of an index map.</para>
/// </summary>
internal static class PoolLowerings
{
    /// <summary>The entries, one per window primitive.</summary>
    public static IEnumerable<KeyValuePair<Primitive, TorchLowering>> Entries => new Dictionary<Primitive, TorchLowering>
    {
        [Prims.ReduceWindowMax] = new TensorOp((c, x) => Max(c, x[0]!)),
        [Prims.ReduceWindowSum] = new TensorOp((c, x) => SumOrMean(c, x[0]!, mean: false)),
        [Prims.ReduceWindowMean] = new TensorOp((c, x) => SumOrMean(c, x[0]!, mean: true)),
        [Prims.SelectAndGather] = new TensorOp((c, x) => Gather(c, x[0]!, x[1]!)),
        [Prims.SelectAndScatterAdd] = new TensorOp((c, x) => ScatterAdd(c, x[0]!, x[1]!)),
        [Prims.ReduceWindowSumTranspose] = new TensorOp((c, x) => SumTranspose(c, x[0]!)),
    };

    static WindowParams P(LowerCtx c) => c.P.Get<WindowParams>(0);

    /// <summary>The window resolved against the pooled operand's aval (operand 0 for the pools, 1 for the others).</summary>
    static WindowGeometry G(LowerCtx c, int x) => P(c).Resolve("Lax.ReduceWindow (Torch)", c.In[x]);

    /// <summary>
    /// The window as a 2-D pool over the last two axes (a 1-D window gets a unit axis in front) or a 3-D pool over the
    /// last three, when libtorch's pooling computes exactly what the primitive means: the leading axes unpooled (folded
    /// into one axis of length L), each padding symmetric and at most half its window, float32 or float64, and no
    /// dilation for the mean and sum (libtorch's average pools have none).
    /// </summary>
    sealed record Plane(long L, long[] N, long[] K, long[] S, long[] Pad, long[] D)
    {
        public bool Is3d => N.Length == 3;
        public long Size => N.Aggregate(1L, (a, b) => a * b);
    }

    static bool Unpooled(WindowGeometry g, int a) => g.P.Window[a] == 1 && g.P.Strides[a] == 1 && g.Lo[a] == 0 && g.Hi[a] == 0;

    static Plane? AsPlane(WindowGeometry g, DType dtype, bool dilationOk)
    {
        if (dtype is not (DType.Float32 or DType.Float64)) return null;
        var p = g.P;
        int r = g.InDims.Length;
        int pooled = r - Enumerable.Range(0, r).TakeWhile(a => Unpooled(g, a)).Count();
        int first = pooled == 3 ? r - 3 : Math.Max(0, r - 2);
        if (pooled > 3) return null;
        var k = new List<long>(); var s = new List<long>(); var pad = new List<long>(); var d = new List<long>(); var n = new List<long>();
        if (r == 1) { k.Add(1); s.Add(1); pad.Add(0); d.Add(1); n.Add(1); }
        for (int a = first; a < r; a++)
        {
            if (g.Lo[a] != g.Hi[a] || 2 * g.Lo[a] > p.Window[a] || (!dilationOk && p.Dilation[a] != 1)) return null;
            k.Add(p.Window[a]); s.Add(p.Strides[a]); pad.Add(g.Lo[a]); d.Add(p.Dilation[a]); n.Add(g.InDims[a]);
        }
        long l = 1;
        for (int a = 0; a < first; a++) l *= g.InDims[a];
        return new Plane(l, [.. n], [.. k], [.. s], [.. pad], [.. d]);
    }

    /// <summary>x as [L, 1, spatial...] (libtorch's N, C, ...).</summary>
    static TT Planes(TT x, Plane q) => x.reshape([q.L, 1, .. q.N]);

    /// <summary>The output as [L, 1, spatial out...].</summary>
    static TT OutPlanes(TT y, Plane q, int[] outDims)
    {
        int d = q.N.Length;
        long[] spatial = outDims.Length >= d ? Dims(outDims[^d..]) : [.. Enumerable.Repeat(1L, d - outDims.Length), .. Dims(outDims)];
        return y.reshape([q.L, 1, .. spatial]);
    }

    static long[] Dims(int[] d) => Lowerings.Longs(d);

    /// <summary>The first maximum of each window as a flat index into its spatial plane (or volume), [L, 1, out...].</summary>
    static TT PlaneArgmax(TT x, Plane q) => q.Is3d
        ? torch.nn.functional.max_pool3d_with_indices(Planes(x, q), q.K, q.S, q.Pad, q.D).indices
        : torch.nn.functional.max_pool2d_with_indices(Planes(x, q), q.K, q.S, q.Pad, q.D).indices;

    // ------------------------------------------------------------------ the primitives

    static TT Max(LowerCtx c, TT x)
    {
        var g = G(c, 0);
        if (AsPlane(g, c.In[0].DType, dilationOk: true) is { } q)
            return (q.Is3d ? torch.nn.functional.max_pool3d(Planes(x, q), q.K, q.S, q.Pad, q.D) : torch.nn.functional.max_pool2d(Planes(x, q), q.K, q.S, q.Pad, q.D)).reshape(c.OutDims);
        return Windows(x, g, PadMin(c.In[0].DType)).amax([-1]);
    }

    static TT SumOrMean(LowerCtx c, TT x, bool mean)
    {
        var g = G(c, 0);
        if (AsPlane(g, c.In[0].DType, dilationOk: false) is { } q)
            return (q.Is3d
                ? torch.nn.functional.avg_pool3d(Planes(x, q), q.K, q.S, q.Pad, ceil_mode: false, count_include_pad: true, divisor_override: mean ? null : (long?)1)
                : torch.nn.functional.avg_pool2d(Planes(x, q), q.K, q.S, q.Pad, ceil_mode: false, count_include_pad: true, divisor_override: mean ? null : (long?)1)).reshape(c.OutDims);
        var w = Windows(x, g, 0);
        return mean ? w.mean([-1]) : w.sum([-1]);
    }

    static TT Gather(LowerCtx c, TT t, TT x)
    {
        var g = G(c, 1);
        if (AsPlane(g, c.In[1].DType, dilationOk: true) is { } q)
        {
            var idx = PlaneArgmax(x, q);
            return t.reshape(q.L, 1, q.Size).gather(2, idx.reshape(q.L, 1, -1)).reshape(c.OutDims);
        }
        var first = Windows(x, g, PadMin(c.In[1].DType)).argmax(-1, keepdim: true);
        return Windows(t, g, 0).gather(-1, first).squeeze(-1);
    }

    static TT ScatterAdd(LowerCtx c, TT ct, TT x)
    {
        var g = G(c, 1);
        if (AsPlane(g, c.In[1].DType, dilationOk: true) is { } q)
        {
            var idx = PlaneArgmax(x, q);
            return torch.zeros([q.L, 1, q.Size], ct.dtype, c.Device).scatter_add(2, idx.reshape(q.L, 1, -1), ct.reshape(q.L, 1, -1)).reshape(c.OutDims);
        }
        var first = Windows(x, g, PadMin(c.In[1].DType)).argmax(-1, keepdim: true);
        var at = Windows(IndexMap(g, c.Device), g, -1).gather(-1, first).flatten();
        return AddAt(g, at, ct.flatten(), ct.dtype, c.Device);
    }

    static TT SumTranspose(LowerCtx c, TT ct)
    {
        var g = G(c, 1);
        if (AsPlane(g, c.In[0].DType, dilationOk: false) is { } q)
        {
            var shape = torch.empty([q.L, 1, .. q.N], ct.dtype, c.Device);
            var gOut = OutPlanes(ct, q, g.OutDims);
            return (q.Is3d
                ? torch.nn.functional.avg_pool3d_backward(gOut, shape, q.K, q.S, q.Pad, ceil_mode: false, count_include_pad: true, divisor_override: 1)
                : torch.nn.functional.avg_pool2d_backward(gOut, shape, q.K, q.S, q.Pad, ceil_mode: false, count_include_pad: true, divisor_override: 1)).reshape(c.OutDims);
        }
        var at = Windows(IndexMap(g, c.Device), g, -1).flatten();
        var values = ct.unsqueeze(-1).expand([.. Dims(g.OutDims), g.Taps]).flatten();
        return AddAt(g, at, values, ct.dtype, c.Device);
    }

    // ------------------------------------------------------------------ the composed form

    /// <summary>The padding value of a max pool: -inf, or the dtype's minimum for integers (exact in a double).</summary>
    static double PadMin(DType d) => d switch
    {
        DType.Int32 => int.MinValue,
        DType.Int64 => long.MinValue,
        _ => double.NegativeInfinity,
    };

    /// <summary>
    /// Every window of x as a last axis: x padded with <paramref name="pad"/>, unfolded along each axis (the window axes
    /// appended in axis order), each window axis taken every dilation-th element, then flattened to
    /// <c>[output shape..., prod(window)]</c> in row-major window order.
    /// </summary>
    static TT Windows(TT x, WindowGeometry g, double pad)
    {
        var p = g.P;
        int r = g.InDims.Length;
        var y = x;
        if (g.Lo.Any(v => v != 0) || g.Hi.Any(v => v != 0))
        {
            // libtorch's pad lists the last axis first
            var pads = new long[2 * r];
            for (int a = 0; a < r; a++) { pads[2 * (r - 1 - a)] = g.Lo[a]; pads[2 * (r - 1 - a) + 1] = g.Hi[a]; }
            y = torch.nn.functional.pad(y, pads, PaddingModes.Constant, pad);
        }
        for (int a = 0; a < r; a++)
            y = y.unfold(a, (p.Window[a] - 1) * p.Dilation[a] + 1, p.Strides[a]);
        for (int a = 0; a < r; a++)
            if (p.Dilation[a] > 1) y = y.slice(r + a, 0, (p.Window[a] - 1) * p.Dilation[a] + 1, p.Dilation[a]);
        return y.reshape([.. Dims(g.OutDims), g.Taps]);
    }

    /// <summary>Each element's flat index, shaped like x (int64).</summary>
    static TT IndexMap(WindowGeometry g, Device device) => torch.arange(g.InSize, ScalarType.Int64, device).reshape(Dims(g.InDims));

    /// <summary>Zeros of x's shape with <paramref name="values"/> added at flat indices <paramref name="at"/> (-1: dropped, a padding tap).</summary>
    static TT AddAt(WindowGeometry g, TT at, TT values, ScalarType dtype, Device device) =>
        torch.zeros([g.InSize + 1], dtype, device).index_add(0, at + 1, values, 1.0).narrow(0, 1, g.InSize).reshape(Dims(g.InDims));
}
