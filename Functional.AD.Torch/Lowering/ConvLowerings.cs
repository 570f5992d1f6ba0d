using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// The Torch column of the convolution family: <c>Lax.Conv</c> runs libtorch's <c>conv1d/2d/3d</c>; the lhs cotangent
/// runs a forward convolution of the cotangent, spread by the strides, with the kernel flipped and its input and output
/// channels swapped per group (libtorch's own <c>conv_transpose</c> is wrong in float32 on some CPUs, and its oneDNN path now and then: CPU convolutions run with oneDNN off, <see cref="OneDnn"/>; see
/// <see cref="Float32Broken"/>); the kernel cotangent runs libtorch's own convolution backward through its autograd
/// (TorchSharp exposes no <c>convolution_backward</c>: a forward convolution is recorded and only the weight gradient is
/// asked for). What libtorch's convolutions do not take is rewritten around them: channels-last operands are permuted,
/// batch groups become feature groups (a reshape of the lhs), lhs dilation spreads the input with zeros, and
/// asymmetric or negative padding is an explicit pad (a negative one a crop).
/// </summary>
internal static class ConvLowerings
{
    public static readonly TensorOp Conv = new((c, x) => Checked(c, x, Forward, Kind.Forward));
    public static readonly TensorOp TransposeLhs = new((c, x) => Checked(c, x, DataGradient, Kind.DataGradient));
    public static readonly TensorOp TransposeRhs = new((c, x) => Checked(c, x, KernelGradient, Kind.KernelGradient));

    /// <summary>The three ways a convolution runs here, each checked on its own by <see cref="Float32Broken"/>.</summary>
    internal enum Kind
    {
        /// <summary><c>conv1d/2d/3d</c>.</summary>
        Forward,
        /// <summary>The lhs cotangent: <c>conv1d/2d/3d</c> of the spread cotangent and the flipped, swapped kernel.</summary>
        DataGradient,
        /// <summary>The kernel cotangent: libtorch's autograd of a recorded convolution, the weight's gradient only.</summary>
        KernelGradient,
    }

    /// <summary>
    /// Whether the float32 form of a <see cref="Kind"/> gives wrong values on this device type, checked once per device
    /// type and kind. On the development machine (libtorch-cpu 2.10 under TorchSharp 0.107, AVX-512) float32
    /// <c>conv_transpose2d</c>, and the input gradient of float32 autograd through <c>conv2d</c>, differ from float64 by
    /// O(1) on about a tenth of small random geometries (stride 1 among them, single-threaded too, and not the same ones
    /// from run to run), while the forward <c>conv2d</c> (strides, padding, dilation, groups) and the weight gradient of
    /// its autograd agreed with float64 on 3,300 random geometries (contiguous lhs: a lhs laid out channels-last in
    /// memory was wrong on about a tenth, see <see cref="Convolve"/>). That is why the lhs cotangent is a forward
    /// convolution here and not <c>conv_transpose</c>. The first float32 convolution of each kind on a device type runs
    /// that kind's own code on small cases in float32 and float64, and where they differ that kind runs in float64 there
    /// (correct, slower); on that machine none differ.
    /// </summary>
    static readonly System.Collections.Concurrent.ConcurrentDictionary<(DeviceType, Kind), bool> float32Broken = new();

    /// <summary>Check cases: lhs [n, c, h, w], kernel [o, c / groups, kh, kw], groups.</summary>
    static readonly (long[] X, long[] W, long G)[] checkCases =
    [
        ([2, 3, 6, 5], [4, 3, 3, 2], 1), ([2, 2, 5, 1], [3, 2, 3, 1], 1), ([3, 1, 4, 5], [1, 1, 1, 3], 1), ([2, 4, 9, 9], [4, 4, 3, 3], 1),
        ([2, 1, 5, 9], [2, 1, 3, 2], 1), ([3, 4, 4, 5], [3, 4, 2, 1], 1), ([2, 4, 7, 6], [6, 2, 3, 3], 2), ([3, 6, 8, 3], [3, 2, 2, 3], 3),
        ([1, 2, 10, 4], [2, 1, 3, 1], 2), ([3, 3, 5, 8], [6, 1, 2, 3], 3),
    ];

    /// <summary>Check geometries: stride, symmetric padding, rhs dilation (the same on both axes).</summary>
    static readonly (long S, long P, long D)[] checkGeometries = [(1, 0, 1), (1, 1, 1), (2, 1, 1), (3, 0, 1), (1, 0, 2), (2, 2, 2), (3, 1, 2)];

    internal static bool Float32Broken(Device device, Kind kind) => float32Broken.GetOrAdd((device.type, kind), _ =>
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(7, device);
        foreach (var (xs, ws, groups) in checkCases)
            foreach (var (s, pad, dil) in checkGeometries)
            {
                long[] stride = [s, s], sym = [pad, pad], dilation = [dil, dil];
                var ext = Enumerable.Range(0, 2).Select(i => xs[2 + i] + 2 * pad - (ws[2 + i] - 1) * dil - 1).ToArray();
                if (ext.Any(v => v < 0)) continue;
                long[] yd = [xs[0], ws[0], ext[0] / s + 1, ext[1] / s + 1];
                var x = torch.rand(xs, ScalarType.Float64, device, generator: gen) * 2 - 1;
                var w = torch.rand(ws, ScalarType.Float64, device, generator: gen) * 2 - 1;
                var g = torch.rand(yd, ScalarType.Float64, device, generator: gen) * 2 - 1;
                Func<ScalarType, TT> run = kind switch
                {
                    Kind.Forward => t => Convolve(x.to_type(t), w.to_type(t), stride, sym, dilation, groups, 2),
                    Kind.DataGradient => t => DataCore(g.to_type(t), w.to_type(t), stride, sym, [xs[2], xs[3]], dilation, groups, 2),
                    _ => t => KernelCore(x.to_type(t), g.to_type(t), ws, stride, sym, dilation, groups, 2),
                };
                var e = (run(ScalarType.Float64) - run(ScalarType.Float32).to_type(ScalarType.Float64)).abs().max().item<double>();
                if (!(e < 1e-3)) return true;
            }
        return false;
    });

    /// <summary>Whether CPU convolutions run with oneDNN off (the benchmarks compare both ways).</summary>
    internal static bool OneDnnOff = true;

    /// <summary>Runs a lowering; float32 operands in float64 where that kind of convolution is <see cref="Float32Broken"/>.</summary>
    static TT Checked(LowerCtx c, TT?[] x, Func<LowerCtx, TT, TT, TT> run, Kind kind)
    {
        var a = x[0]!;
        var b = x[1]!;
        using var off = c.Device.type == DeviceType.CPU && OneDnnOff ? OneDnn.Off() : default;
        if (a.dtype == ScalarType.Float32 && Float32Broken(c.Device, kind))
            return run(c, a.to_type(ScalarType.Float64), b.to_type(ScalarType.Float64)).to_type(ScalarType.Float32);
        return run(c, a, b);
    }

    static long[] L(IEnumerable<int> v) => v.Select(i => (long)i).ToArray();

    static TT Permute(TT t, int[] perm) => t.permute(L(perm));

    static TT ToFirst(TT t, int role, ConvParams p, int rank) =>
        !p.ChannelsLast ? t : Permute(t, role == 1 ? ConvShape.KernelToFirst(rank) : ConvShape.DataToFirst(rank));

    static TT ToLast(TT t, int role, ConvParams p, int rank) =>
        !p.ChannelsLast ? t : Permute(t, role == 1 ? ConvShape.KernelToLast(rank) : ConvShape.DataToLast(rank)).contiguous();

    static int[] First(Aval a, int role, ConvParams p) => ConvShape.ToFirst(a.Dims, role, p.ChannelsLast);

    /// <summary>libtorch's convolution of a channels-first lhs and kernel. The lhs is made contiguous first: a lhs laid
    /// out channels-last in memory (a permuted NHWC operand) sends float32 <c>conv2d</c> down a path that gave O(1)
    /// errors on about a tenth of small random geometries on the development machine (docs/convolutions.md).</summary>
    static TT Convolve(TT x, TT w, long[] stride, long[] pad, long[] dilation, long groups, int d)
    {
        x = x.contiguous();
        return d switch
        {
            1 => torch.nn.functional.conv1d(x, w, null, stride[0], pad[0], dilation[0], groups),
            2 => torch.nn.functional.conv2d(x, w, null, stride, pad, dilation, groups),
            _ => torch.nn.functional.conv3d(x, w, null, stride, pad, dilation, groups),
        };
    }

    /// <summary>Zeros between the elements of t's spatial axes (all but the first two): factor - 1 of them on each axis.</summary>
    static TT Spread(TT t, long[] factor)
    {
        int d = factor.Length;
        if (factor.All(v => v == 1)) return t;
        long[] shape = [t.shape[0], t.shape[1], .. Enumerable.Range(0, d).Select(i => (t.shape[2 + i] - 1) * factor[i] + 1)];
        var z = torch.zeros(shape, t.dtype, t.device);
        var idx = new TensorIndex[d + 2];
        idx[0] = TensorIndex.Colon;
        idx[1] = TensorIndex.Colon;
        for (int i = 0; i < d; i++) idx[2 + i] = TensorIndex.Slice(0, null, factor[i]);
        z[idx] = t;
        return z;
    }

    /// <summary>
    /// The cotangent of the lhs x of <c>Convolve(x, w, stride, sym, dilation, groups)</c> (x channels-first, spatial
    /// sizes <paramref name="seen"/>), given the output's cotangent g, as one forward convolution: g spread by the
    /// strides, padded by the dilated kernel's extent less <paramref name="sym"/> (negative: cropped), against w flipped
    /// on its spatial axes with its input and output channels swapped within each group, stride 1, the same rhs dilation.
    /// </summary>
    static TT DataCore(TT g, TT w, long[] stride, long[] sym, long[] seen, long[] dilation, long groups, int d)
    {
        var spread = Spread(g, stride);
        var conv = new long[d];
        var ex = new long[2 * d];
        bool padded = false;
        for (int i = 0; i < d; i++)
        {
            long kd = (w.shape[2 + i] - 1) * dilation[i] + 1;
            long lo = kd - 1 - sym[i], hi = seen[i] + sym[i] - spread.shape[2 + i];
            long both = Math.Max(0, Math.Min(lo, hi));
            conv[i] = both;
            ex[2 * (d - 1 - i)] = lo - both;
            ex[2 * (d - 1 - i) + 1] = hi - both;
            padded |= lo != both || hi != both;
        }
        if (padded) spread = torch.nn.functional.pad(spread, ex);
        long o = w.shape[0], cg = w.shape[1];
        long[] k = w.shape[2..];
        var wt = w.reshape([groups, o / groups, cg, .. k]).transpose(1, 2).reshape([groups * cg, o / groups, .. k])
            .flip(Enumerable.Range(2, d).Select(i => (long)i).ToArray());
        return Convolve(spread, wt, Enumerable.Repeat(1L, d).ToArray(), conv, dilation, groups, d);
    }

    /// <summary>The cotangent of the kernel (dims <paramref name="wd"/>) of <c>Convolve(xp, w, stride, sym, dilation,
    /// groups)</c>, given the output's cotangent g: libtorch's autograd of that convolution recorded on a zero kernel,
    /// asking for the weight's gradient only (the weight's values do not enter it).</summary>
    static TT KernelCore(TT xp, TT g, long[] wd, long[] stride, long[] sym, long[] dilation, long groups, int d)
    {
        using (torch.enable_grad())
        {
            var w = torch.zeros(wd, g.dtype, g.device).requires_grad_(true);
            var y = Convolve(xp.detach(), w, stride, sym, dilation, groups, d);
            return torch.autograd.grad([y], [w], [g.to_type(y.dtype)])[0].detach();
        }
    }

    /// <summary>[G n, C, s...] as [n, G C, s...]: batch group g becomes feature group g.</summary>
    static TT BatchGroupsAsFeatureGroups(TT x, int g, int[] d) =>
        x.reshape([g, d[0] / g, .. L(d[1..])]).transpose(0, 1).reshape([d[0] / g, (long)g * d[1], .. L(d[2..])]);

    /// <summary>How libtorch runs a convolution of channels-first lhs dims (after batch groups):
    /// the symmetric padding it takes, and the explicit pad (low, high per axis; negative crops) and lhs dilation done first.</summary>
    sealed record Plan(long[] Sym, long[] Explicit, bool Dilated, bool Padded);

    static Plan PlanOf(ConvParams p, int[] x, int[] w)
    {
        int d = p.Spatial;
        var (lo, hi) = ConvShape.Pads(p, x[2..], w[2..]);
        var sym = new long[d];
        var ex = new long[2 * d];
        bool padded = false;
        for (int i = 0; i < d; i++)
        {
            int s = Math.Max(0, Math.Min(lo[i], hi[i]));
            sym[i] = s;
            // torch's pad lists the last axis first: (low, high) of axis d-1, then of axis d-2, ...
            ex[2 * (d - 1 - i)] = lo[i] - s;
            ex[2 * (d - 1 - i) + 1] = hi[i] - s;
            padded |= lo[i] != s || hi[i] != s;
        }
        return new Plan(sym, ex, p.LhsDilation.Any(v => v != 1), padded);
    }

    /// <summary>The lhs spread by the lhs dilation (zeros between elements) and explicitly padded.</summary>
    static TT Prepare(TT x, ConvParams p, Plan plan, int[] dims)
    {
        if (plan.Dilated) x = Spread(x, L(p.LhsDilation));
        return plan.Padded ? torch.nn.functional.pad(x, plan.Explicit) : x;
    }

    static TT Forward(LowerCtx c, TT x, TT w)
    {
        var p = c.P.Get<ConvParams>(0);
        int d = p.Spatial, r = d + 2;
        x = ToFirst(x, 0, p, r);
        w = ToFirst(w, 1, p, r);
        var xd = First(c.In[0], 0, p);
        var wd = First(c.In[1], 1, p);
        int groups = p.FeatureGroups;
        if (p.BatchGroups > 1)
        {
            x = BatchGroupsAsFeatureGroups(x, p.BatchGroups, xd);
            groups = p.BatchGroups;
            xd = [xd[0] / groups, xd[1] * groups, .. xd[2..]];
        }
        var plan = PlanOf(p, xd, wd);
        var y = Convolve(Prepare(x, p, plan, xd), w, L(p.Strides), plan.Sym, L(p.RhsDilation), groups, d);
        return ToLast(y, 2, p, r);
    }

    /// <summary>The lhs cotangent: <see cref="DataCore"/> onto the dilated, padded lhs, then the explicit padding removed
    /// (or restored as zeros where it cropped) and the dilation's zeros dropped.</summary>
    static TT DataGradient(LowerCtx c, TT g, TT w)
    {
        var p = c.P.Get<ConvParams>(0);
        int d = p.Spatial, r = d + 2;
        g = ToFirst(g, 2, p, r);
        w = ToFirst(w, 1, p, r);
        var xd = First(c.Out, 0, p);
        var wd = First(c.In[1], 1, p);
        int groups = p.FeatureGroups, bg = p.BatchGroups;
        int[] xk = bg > 1 ? [xd[0] / bg, xd[1] * bg, .. xd[2..]] : xd;
        if (bg > 1) groups = bg;
        var plan = PlanOf(p, xk, wd);
        // the size of the dilated, explicitly padded lhs that libtorch's convolution saw
        var seen = new long[d];
        for (int i = 0; i < d; i++)
            seen[i] = (long)(xk[2 + i] - 1) * p.LhsDilation[i] + 1 + plan.Explicit[2 * (d - 1 - i)] + plan.Explicit[2 * (d - 1 - i) + 1];
        var gx = DataCore(g, w, L(p.Strides), plan.Sym, seen, L(p.RhsDilation), groups, d);
        if (plan.Padded) gx = torch.nn.functional.pad(gx, plan.Explicit.Select(v => -v).ToArray());
        if (plan.Dilated)
        {
            var idx = new TensorIndex[d + 2];
            idx[0] = TensorIndex.Colon;
            idx[1] = TensorIndex.Colon;
            for (int i = 0; i < d; i++) idx[2 + i] = TensorIndex.Slice(0, null, p.LhsDilation[i]);
            gx = gx[idx];
        }
        if (bg > 1)
            gx = gx.reshape([xk[0], bg, xd[1], .. L(xd[2..])]).transpose(0, 1).reshape(L(xd));
        return ToLast(gx.contiguous(), 0, p, r);
    }

    /// <summary>The kernel cotangent: <see cref="KernelCore"/> on the prepared lhs.</summary>
    static TT KernelGradient(LowerCtx c, TT x, TT g)
    {
        var p = c.P.Get<ConvParams>(0);
        int d = p.Spatial, r = d + 2;
        x = ToFirst(x, 0, p, r);
        g = ToFirst(g, 2, p, r);
        var xd = First(c.In[0], 0, p);
        var wd = First(c.Out, 1, p);
        int groups = p.FeatureGroups;
        if (p.BatchGroups > 1)
        {
            x = BatchGroupsAsFeatureGroups(x, p.BatchGroups, xd);
            groups = p.BatchGroups;
            xd = [xd[0] / groups, xd[1] * groups, .. xd[2..]];
        }
        var plan = PlanOf(p, xd, wd);
        var gw = KernelCore(Prepare(x, p, plan, xd), g, L(wd), L(p.Strides), plan.Sym, L(p.RhsDilation), groups, d);
        return ToLast(gw, 1, p, r);
    }
}
