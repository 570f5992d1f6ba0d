using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

// The Torch column of the contractions and of sorting (Primitives/Prims.Contractions.cs, Prims.Sorting.cs): libtorch's
// einsum (on the spec resolved against the concrete shapes, so '...', '*' and the transposes' broadcast and diagonal
// outputs reach it as plain letters), sort (stable, its indices), gather, scatter_add and searchsorted. TopK's indices are a
// stable descending sort's indices cut to k rather than topk, whose order among equal elements libtorch does not promise.
internal static partial class Lowerings
{
    /// <summary>An einsum: libtorch's einsum over the letters present, then broadcast and embedded like the CPU's.</summary>
    static TT EinsumOp(LowerCtx c, TT?[] x, bool like)
    {
        int off = like ? 1 : 0;
        var ins = c.In[off..];
        var r = EinsumEngine.Resolve(c.P.Get<string>(0), ins, like ? c.In[0] : null);
        var (text, present) = EinsumEngine.TorchText(r);
        var ts = x.Skip(off).Select((t, i) => r.Split?[i] is { } d ? t!.reshape(Longs(d)) : t!).Select(t => t.to_type(c.OutType)).ToArray();
        var y = torch.einsum(text, ts);
        var u = r.Out.Distinct().ToArray();
        if (present.Length != u.Length)
        {
            y = y.reshape(u.Select(l => present.Contains(l) ? (long)r.Size[l] : 1L).ToArray());
            y = y.expand(u.Select(l => (long)r.Size[l]).ToArray());
        }
        if (u.Length == r.Out.Length) return r.Merged is { } m ? y.reshape(Longs(m)) : y;
        var pos = torch.tensor(EinsumEngine.EmbedPositions(r).Select(p => (long)p).ToArray(), ScalarType.Int64, c.Device);
        return torch.zeros(r.Out.Aggregate(1L, (n, l) => n * r.Size[l]), c.OutType, c.Device).index_add(0, pos, y.reshape(-1), 1.0).reshape(c.OutDims);
    }

    /// <summary>The entries of the contractions and of sorting.</summary>
    static IEnumerable<KeyValuePair<Primitive, TorchLowering>> ContractionsAndSorting => new Dictionary<Primitive, TorchLowering>
    {
        [Prims.Einsum] = Op((c, x) => EinsumOp(c, x, like: false)),
        [Prims.EinsumLike] = Op((c, x) => EinsumOp(c, x, like: true)),
        [Prims.Argsort] = Op((c, x) => x[0]!.sort(c.Axis(c.P.Get<int>(0), c.In[0].Rank), descending: false, stable: true).Indices.to_type(ScalarType.Int32)),
        [Prims.TopKIndices] = Op((c, x) => x[0]!.sort(-1, descending: true, stable: true).Indices.narrow(-1, 0, c.P.Get<int>(0)).to_type(ScalarType.Int32)),
        [Prims.SearchSorted] = Op((c, x) =>
        {
            var dt = Lowerings.ScalarOf(DTypes.Promote(c.In[0].DType, c.In[0].Weak, c.In[1].DType, c.In[1].Weak).DType);
            return torch.searchsorted(x[0]!.to_type(dt), x[1]!.to_type(dt), right: c.P.Get<string>(0) == "right").to_type(ScalarType.Int32);
        }),
    };
}
