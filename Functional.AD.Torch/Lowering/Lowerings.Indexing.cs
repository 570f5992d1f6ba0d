using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

// The Torch column of indexing (Primitives/Prims.Indexing.cs): slice, narrow and flip for a static part, index_copy and
// index_add at its flat positions for updates, index_select with device-side clamped starts for dynamic blocks.
internal static partial class Lowerings
{
    /// <summary>The part a resolved static index selects: a forward step is libtorch's strided slice (a view), a
    /// backward one a flip first; a point is a slice of one, removed by the final reshape.</summary>
    static TT Part(TT x, Ix.Resolved[] r, long[] outDims)
    {
        for (int a = 0; a < r.Length; a++)
        {
            var (start, count, step, _) = r[a];
            long n = x.shape[a];
            if (step < 0)
            {
                x = x.flip(a);
                start = (int)(n - 1 - start);
                step = -step;
            }
            if (start == 0 && step == 1 && count == n) continue;
            x = count == 0 ? x.narrow(a, 0, 0) : x.slice(a, start, start + (long)(count - 1) * step + 1, step);
        }
        return x.reshape(outDims);
    }

    /// <summary>The flat positions of a static part in x, as an int64 index on the device.</summary>
    static TT PartOffsets(Aval x, Ix.Resolved[] r, LowerCtx c) =>
        torch.tensor(IndexMoves.Offsets(x.Dims, r).Select(i => (long)i).ToArray(), ScalarType.Int64, c.Device);

    static Ix.Resolved[] Resolved(LowerCtx c) => Ix.Resolve(c.P.Get<Ix[]>(0), c.In[0].Dims, () => $"x{Ix.Text(c.P.Get<Ix[]>(0))}", [c.In[0]]);

    /// <summary>x (in the output's dtype) with v broadcast over the part, written (index_copy) or added (index_add) at its flat positions.</summary>
    static TT UpdatePart(LowerCtx c, TT x, TT v, bool add)
    {
        var r = Resolved(c);
        var ix = c.P.Get<Ix[]>(0);
        var partDims = Longs(Ix.OutDims(ix, r, c.In[0].Rank, () => $"x{Ix.Text(ix)}", [c.In[0]]));
        var flat = x.to_type(c.OutType).reshape(-1);
        var values = v.to_type(c.OutType).expand(partDims).reshape(-1);
        var idx = PartOffsets(c.In[0], r, c);
        return (add ? flat.index_add(0, idx, values, 1.0) : flat.index_copy(0, idx, values)).reshape(c.OutDims);
    }

    /// <summary>Per axis, the clamped start (floor, then 0 .. n - size, computed on the device) plus 0 .. size - 1.</summary>
    static TT[] BlockIndices(TT[] starts, int[] dims, int[] sizes, Device device) =>
        starts.Select((s, a) => s.to_type(ScalarType.Float64).floor().clamp(0, Math.Max(0, dims[a] - sizes[a])).to_type(ScalarType.Int64).reshape(1)
            + torch.arange(sizes[a], ScalarType.Int64, device)).ToArray();

    static TT Block(TT x, TT[] starts, int[] dims, int[] sizes, Device device)
    {
        var idx = BlockIndices(starts, dims, sizes, device);
        for (int a = 0; a < idx.Length; a++) x = x.index_select(a, idx[a]);
        return x;
    }

    /// <summary>The flat positions of a dynamic block (row-major over the block), on the device.</summary>
    static TT BlockOffsets(TT[] starts, int[] dims, int[] sizes, Device device)
    {
        var idx = BlockIndices(starts, dims, sizes, device);
        var flat = torch.zeros(Longs(sizes), ScalarType.Int64, device);
        long stride = 1;
        for (int a = dims.Length - 1; a >= 0; a--)
        {
            var shape = Enumerable.Repeat(1L, dims.Length).ToArray();
            shape[a] = sizes[a];
            flat = flat + idx[a].reshape(shape) * stride;
            stride *= dims[a];
        }
        return flat.reshape(-1);
    }

    /// <summary>Indices of TakeAlongAxis as int64, negative ones counted from the end of an axis of length n, broadcast to <paramref name="shape"/>.</summary>
    static TT AlongIndices(TT indices, int n, long[] shape)
    {
        var i = indices.to_type(ScalarType.Int64);
        return torch.where(i.lt(0), i + n, i).expand(shape);
    }

    /// <summary>GatherAxes's flat rows of x's first k axes on the device (negative indices counted from the end), and one row's size.</summary>
    static (TT Rows, long Block) AxesRows(TT[] indices, int[] xd)
    {
        TT? rows = null;
        for (int j = 0; j < indices.Length; j++)
        {
            var i = indices[j].to_type(ScalarType.Int64);
            i = torch.where(i.lt(0), i + xd[j], i);
            rows = rows is null ? i : rows * xd[j] + i;
        }
        return (rows!.flatten(), Kernels.Product(xd, indices.Length));
    }

    /// <summary>The entries of indexing, added to <paramref name="table"/>.</summary>
    static Dictionary<Primitive, TorchLowering> WithIndexing(Dictionary<Primitive, TorchLowering> table)
    {
        var entries = new Dictionary<Primitive, TorchLowering>
        {
            [Prims.Index] = Op((c, x) => Part(x[0]!, Resolved(c), c.OutDims)),
            [Prims.IndexSet] = Op((c, x) => UpdatePart(c, x[0]!, x[1]!, add: false)),
            [Prims.IndexAdd] = Op((c, x) => UpdatePart(c, x[0]!, x[1]!, add: true)),
            [Prims.DynamicSlice] = Op((c, x) => Block(x[0]!, x[1..]!, c.In[0].Dims, c.P.Get<int[]>(0), c.Device)),
            [Prims.DynamicSliceLike] = Op((c, x) => Block(x[0]!, x[2..]!, c.In[0].Dims, c.In[1].Dims, c.Device)),
            [Prims.DynamicUpdateSlice] = Op((c, x) =>
            {
                var idx = BlockOffsets(x[2..]!, c.In[0].Dims, c.In[1].Dims, c.Device);
                return x[0]!.to_type(c.OutType).reshape(-1).index_copy(0, idx, x[1]!.to_type(c.OutType).reshape(-1)).reshape(c.OutDims);
            }),
        };
        foreach (var (p, lowering) in entries) table.Add(p, lowering);
        table.Add(Prims.GatherAxes, Op((c, x) =>
        {
            var (rows, block) = AxesRows(x[1..]!, c.In[0].Dims);
            return x[0]!.reshape(-1, block).index_select(0, rows).reshape(c.OutDims);
        }));
        table.Add(Prims.ScatterAddAxes, Op((c, x) =>
        {
            var (rows, block) = AxesRows(x[2..]!, c.In[1].Dims);
            var g = x[0]!.to_type(c.OutType).reshape(-1, block);
            return torch.zeros(new long[] { Kernels.Product(c.Out.Dims) / Math.Max(1, (int)block), block }, c.OutType, c.Device).index_add(0, rows, g, 1.0).reshape(c.OutDims);
        }));
        table.Add(Prims.TakeAlongAxis, Op((c, x) =>
        {
            int ax = c.Axis(c.P.Get<int>(0), c.In[0].Rank);
            return x[0]!.gather(ax, AlongIndices(x[1]!, c.In[0].Dims[ax], c.OutDims));
        }));
        table.Add(Prims.ScatterAlongAxis, Op((c, x) =>
        {
            int ax = c.Axis(c.P.Get<int>(0), c.Out.Rank);
            var g = x[0]!.to_type(c.OutType);
            return torch.zeros(c.OutDims, c.OutType, c.Device).scatter_add(ax, AlongIndices(x[1]!, c.Out.Dims[ax], g.shape), g);
        }));
        return table;
    }
}
