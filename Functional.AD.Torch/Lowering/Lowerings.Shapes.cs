using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

// The Torch column of the shape vocabulary (Primitives/Prims.Shapes.cs): index_select, index_add, triu and tril.
internal static partial class Lowerings
{
    /// <summary>A static index vector on the device.</summary>
    static TT IndexVector(int[] idx, LowerCtx c) => torch.tensor(idx.Select(i => (long)i).ToArray(), ScalarType.Int64, c.Device);

    /// <summary>The gather of one <see cref="AxisMap"/>: index_select, along a fill slice appended where the map reads the fill.</summary>
    static TT GatherAlong(TT x, AxisMap m, LowerCtx c)
    {
        int rank = (int)x.dim();
        int ax = c.Axis(m.Axis, rank);
        int n = (int)x.shape[ax];
        var idx = m.Indices(n, $"Lax.AxisGather({m})", [c.In[0]]);
        if (idx.Contains(-1))
        {
            var fillShape = x.shape.ToArray();
            fillShape[ax] = 1;
            x = torch.cat([x, torch.full(fillShape, m.Fill, x.dtype, c.Device)], ax);
            for (int i = 0; i < idx.Length; i++) if (idx[i] < 0) idx[i] = n;
        }
        return x.index_select(ax, IndexVector(idx, c));
    }

    /// <summary>The adjoint of the gathers, last map first: index_add onto zeros of each map's input shape (and a fill slice, dropped).</summary>
    static TT ScatterAlong(TT g, Aval x, AxisMap[] maps, LowerCtx c)
    {
        var shapes = new List<long[]> { x.Dims.Select(d => (long)d).ToArray() };
        foreach (var m in maps)
        {
            var d = shapes[^1];
            int ax = c.Axis(m.Axis, d.Length);
            var next = (long[])d.Clone();
            next[ax] = m.Indices((int)d[ax], "Lax.AxisScatterAdd", [x]).Length;
            shapes.Add(next);
        }
        for (int k = maps.Length - 1; k >= 0; k--)
        {
            var d = (long[])shapes[k].Clone();
            int ax = c.Axis(maps[k].Axis, d.Length);
            int n = (int)d[ax];
            var idx = maps[k].Indices(n, "Lax.AxisScatterAdd", [x]);
            bool fills = idx.Contains(-1);
            for (int i = 0; i < idx.Length; i++) if (idx[i] < 0) idx[i] = n;
            if (fills) d[ax] = n + 1;
            g = torch.zeros(d, g.dtype, c.Device).index_add(ax, IndexVector(idx, c), g, 1.0);
            if (fills) g = g.narrow(ax, 0, n);
        }
        return g;
    }

    /// <summary>The entries of the shape vocabulary, added to <paramref name="table"/>.</summary>
    static Dictionary<Primitive, TorchLowering> WithShapeVocabulary(Dictionary<Primitive, TorchLowering> table)
    {
        var entries = new Dictionary<Primitive, TorchLowering>
        {
            [Prims.AxisGather] = Op((c, x) => c.P.Get<AxisMap[]>(0).Aggregate(x[0]!, (t, m) => GatherAlong(t, m, c))),
            [Prims.AxisScatterAdd] = Op((c, x) => ScatterAlong(x[0]!, c.In[1], c.P.Get<AxisMap[]>(0), c)),
            [Prims.PadFill] = Op((c, x) =>
            {
                var maps = c.P.Get<AxisMap[]>(0).Select(m => m with { Fill = 0 }).ToArray();
                var xs = x[0]!.to_type(c.OutType);
                var padded = maps.Aggregate(xs, (t, m) => GatherAlong(t, m, c));
                var ones = maps.Aggregate(torch.ones_like(xs), (t, m) => GatherAlong(t, m, c));
                return padded + x[1]!.to_type(c.OutType) * (1 - ones).to_type(c.OutType);
            }),
            [Prims.ExpandDims] = Op((c, x) => x[0]!.reshape(c.OutDims)),
            [Prims.Squeeze] = Op((c, x) => x[0]!.reshape(c.OutDims)),
            [Prims.MoveAxis] = Op((c, x) => x[0]!.movedim(new long[] { c.Axis(c.P.Get<int>(0), c.In[0].Rank) }, new long[] { c.Axis(c.P.Get<int>(1), c.In[0].Rank) })),
            [Prims.SwapAxes] = Op((c, x) => x[0]!.swapaxes(c.Axis(c.P.Get<int>(0), c.In[0].Rank), c.Axis(c.P.Get<int>(1), c.In[0].Rank))),
            [Prims.Triangle] = Op((c, x) => c.P.Get<bool>(1) ? x[0]!.triu(c.P.Get<int>(0)) : x[0]!.tril(c.P.Get<int>(0))),
        };
        foreach (var (p, lowering) in entries) table.Add(p, lowering);
        return table;
    }
}
