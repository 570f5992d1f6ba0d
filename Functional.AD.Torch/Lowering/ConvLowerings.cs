using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// The Torch column of the convolution family: <c>Lax.Conv</c> runs libtorch's <c>conv1d/2d/3d</c>; the lhs cotangent
/// runs <c>conv_transpose1d/2d/3d</c> (libtorch's data-gradient kernel); the kernel cotangent runs libtorch's own
/// convolution backward through its autograd (TorchSharp exposes no <c>convolution_backward</c>: a forward convolution
/// is recorded and only the weight gradient is asked for). What libtorch's convolutions do not take is rewritten
/// around them: channels-last operands are permuted, batch groups become feature groups (a reshape of the lhs), lhs
/// dilation spreads the input with zeros, and asymmetric or negative padding is an explicit pad (a negative one a crop).
/// </summary>
internal static class ConvLowerings
{
    public static readonly TensorOp Conv = new((c, x) => Checked(c, x, Forward, transposed: false));
    public static readonly TensorOp TransposeLhs = new((c, x) => Checked(c, x, DataGradient, transposed: true));
    public static readonly TensorOp TransposeRhs = new((c, x) => Checked(c, x, KernelGradient, transposed: true));

    /// <summary>
    /// Whether libtorch's float32 convolutions give wrong values on this device type, checked once per device type and
    /// kind (forward, transposed). On the development machine (libtorch-cpu 2.10 under TorchSharp 0.107, AVX-512)
    /// float32 <c>conv_transpose2d</c> differs from float64 by O(1) on about a third of small random geometries
    /// (stride 1 among them, single-threaded too, and not the same ones from run to run), and float32 autograd through a
    /// strided convolution returned zero rows in the input gradient; float64 agrees with our own kernels to 1e-12, and
    /// the forward <c>conv2d</c> agreed in float32 on 300 random geometries. So the first float32 convolution of each kind
    /// on a device type checks small cases against float64, and where they differ that kind runs in float64 there
    /// (correct, slower): on that machine, the two transposes (the input's and the kernel's gradients).
    /// </summary>
    static readonly System.Collections.Concurrent.ConcurrentDictionary<(DeviceType, bool), bool> float32Broken = new();

    static readonly (long[] X, long[] W)[] checkCases =
        [([2, 3, 6, 5], [4, 3, 3, 2]), ([2, 2, 5, 1], [3, 2, 3, 1]), ([3, 1, 4, 5], [1, 1, 1, 3]), ([2, 4, 9, 9], [4, 4, 3, 3]), ([2, 1, 5, 9], [2, 1, 3, 2]), ([3, 4, 4, 5], [3, 4, 2, 1])];

    internal static bool Float32Broken(Device device, bool transposed) => float32Broken.GetOrAdd((device.type, transposed), _ =>
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(7, device);
        foreach (var (xs, ws) in checkCases)
            for (int round = 0; round < 3; round++)
            {
                var x = torch.rand(xs, ScalarType.Float64, device, generator: gen);
                var w = torch.rand(ws, ScalarType.Float64, device, generator: gen);
                double e;
                if (!transposed)
                {
                    var y64 = torch.nn.functional.conv2d(x, w, null, [1, 1], [1, 1]);
                    var y32 = torch.nn.functional.conv2d(x.to_type(ScalarType.Float32), w.to_type(ScalarType.Float32), null, [1, 1], [1, 1]);
                    e = (y64 - y32.to_type(ScalarType.Float64)).abs().max().item<double>();
                }
                else
                {
                    // x's channels feed w's first axis in a transposed convolution: w read as [Cin, Cout, ...]
                    var wt = w.transpose(0, 1).contiguous();
                    var xt = torch.rand([xs[0], ws[1], xs[2], xs[3]], ScalarType.Float64, device, generator: gen);
                    foreach (var (st, pad) in new (long[], long[])[] { ([1, 1], [0, 0]), ([2, 1], [1, 0]) })
                    {
                        var t64 = torch.nn.functional.conv_transpose2d(xt, wt, null, st, pad);
                        var t32 = torch.nn.functional.conv_transpose2d(xt.to_type(ScalarType.Float32), wt.to_type(ScalarType.Float32), null, st, pad);
                        if (!((t64 - t32.to_type(ScalarType.Float64)).abs().max().item<double>() < 1e-3)) return true;
                    }
                    e = 0;
                }
                if (!(e < 1e-3)) return true;
            }
        return false;
    });

    /// <summary>Runs a lowering; float32 operands in float64 where that kind of convolution is <see cref="Float32Broken"/>.</summary>
    static TT Checked(LowerCtx c, TT?[] x, Func<LowerCtx, TT, TT, TT> run, bool transposed)
    {
        var a = x[0]!;
        var b = x[1]!;
        if (a.dtype == ScalarType.Float32 && Float32Broken(c.Device, transposed))
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

    static TT Convolve(TT x, TT w, long[] stride, long[] pad, long[] dilation, long groups, int d) => d switch
    {
        1 => torch.nn.functional.conv1d(x, w, null, stride[0], pad[0], dilation[0], groups),
        2 => torch.nn.functional.conv2d(x, w, null, stride, pad, dilation, groups),
        _ => torch.nn.functional.conv3d(x, w, null, stride, pad, dilation, groups),
    };

    static TT ConvolveTransposed(TT g, TT w, long[] stride, long[] pad, long[] outPad, long[] dilation, long groups, int d) => d switch
    {
        1 => torch.nn.functional.conv_transpose1d(g, w, null, stride[0], pad[0], outPad[0], dilation[0], groups),
        2 => torch.nn.functional.conv_transpose2d(g, w, null, stride, pad, outPad, dilation, groups),
        _ => torch.nn.functional.conv_transpose3d(g, w, null, stride, pad, outPad, dilation, groups),
    };

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
        if (plan.Dilated)
        {
            int d = p.Spatial;
            long[] spread = [dims[0], dims[1], .. Enumerable.Range(0, d).Select(i => (long)(dims[2 + i] - 1) * p.LhsDilation[i] + 1)];
            var z = torch.zeros(spread, x.dtype, x.device);
            var idx = new TensorIndex[d + 2];
            idx[0] = TensorIndex.Colon;
            idx[1] = TensorIndex.Colon;
            for (int i = 0; i < d; i++) idx[2 + i] = TensorIndex.Slice(0, null, p.LhsDilation[i]);
            z[idx] = x;
            x = z;
        }
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

    /// <summary>The lhs cotangent: libtorch's transposed convolution onto the dilated, padded lhs, then the explicit
    /// padding removed (or restored as zeros where it cropped) and the dilation's zeros dropped.</summary>
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
        var outPad = new long[d];
        for (int i = 0; i < d; i++)
        {
            long spread = (long)(xk[2 + i] - 1) * p.LhsDilation[i] + 1;
            seen[i] = spread + plan.Explicit[2 * (d - 1 - i)] + plan.Explicit[2 * (d - 1 - i) + 1];
            long kd = (long)(wd[2 + i] - 1) * p.RhsDilation[i] + 1;
            long y = First(c.In[0], 2, p)[2 + i];
            outPad[i] = seen[i] + 2 * plan.Sym[i] - ((y - 1) * p.Strides[i] + kd);
        }
        var gx = ConvolveTransposed(g, w, L(p.Strides), plan.Sym, outPad, L(p.RhsDilation), groups, d);
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

    /// <summary>The kernel cotangent: libtorch's convolution backward for the weight, through its autograd on a
    /// recorded convolution of the prepared lhs (the weight's values do not enter its gradient).</summary>
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
        var xp = Prepare(x, p, plan, xd).detach();
        TT gw;
        using (torch.enable_grad())
        {
            var w = torch.zeros(L(wd), g.dtype, g.device).requires_grad_(true);
            var y = Convolve(xp, w, L(p.Strides), plan.Sym, L(p.RhsDilation), groups, d);
            gw = torch.autograd.grad([y], [w], [g.to_type(y.dtype)])[0];
        }
        return ToLast(gw.detach(), 1, p, r);
    }
}
