namespace Functional.AD;

/// <summary>
/// Pytrees: nested records (with a positional constructor) and ValueTuples whose leaves are tensors, doubles or
/// floats. <c>int</c>, <c>long</c>, <c>bool</c>, <c>string</c> and enum fields are static: carried along unchanged
/// and never differentiated. A gradient has the type of the argument it was taken with respect to.
/// </summary>
/// <example><code>
/// record Params(Tensor W, Tensor B);
/// var p2 = Tree.Map((w, g) =&gt; w - 0.1 * g, p, grads);
/// var (flat, unravel) = Tree.Ravel(p);     // one vector, and the way back
/// </code></example>
public static partial class Tree
{
    static List<object?> Flat<T>(T tree, out TreeDef def, string name = "tree")
    {
        def = TreeDef.Of(typeof(T));
        if (tree is null && !def.IsLeaf)
            throw new ArgumentNullException(name, $"Tree: {name} is a null {Printer.TypeName(typeof(T))}; pass a value of the pytree.");
        var leaves = new List<object?>();
        def.Flatten(tree, leaves);
        var info = def.LeafInfo(name).ToArray();
        for (int i = 0; i < leaves.Count; i++)
            if (leaves[i] is null && info[i].Kind != Kind.Static)
                throw new ArgumentNullException(name, $"Tree: the leaf {info[i].Path} ({Printer.TypeName(info[i].Type)}) is null; every Tensor leaf of a pytree must hold a tensor.");
        return leaves;
    }

    static Tensor AsTensor(object? leaf) => leaf switch
    {
        Tensor t => t,
        double d => Tensor.Scalar(d, DType.Float64),
        float f => Tensor.Scalar(f, DType.Float32),
        _ => throw new ArgumentException($"Tree: {leaf ?? "null"} is not a Tensor, double or float leaf."),
    };

    static object? Back(Tensor t, Type leafType, string path) =>
        t is null ? throw new ArgumentException($"Tree.Map: the function returned null for the leaf {path}; it must return a Tensor.", "f")
        : leafType == typeof(double) ? (object)(double)t : leafType == typeof(float) ? (object)(float)(double)t : t;

    /// <summary>The floating leaves of <paramref name="tree"/>, depth first, as tensors (a double leaf is a float64 scalar).</summary>
    public static IReadOnlyList<Tensor> Leaves<T>(T tree)
    {
        var leaves = Flat(tree, out var def);
        var kinds = def.LeafInfo("").ToArray();
        return leaves.Where((_, i) => kinds[i].Kind != Kind.Static).Select(AsTensor).ToArray();
    }

    /// <summary>Applies <paramref name="f"/> to every floating leaf; static leaves are kept.</summary>
    public static T Map<T>(Func<Tensor, Tensor> f, T tree)
    {
        ArgumentNullException.ThrowIfNull(f);
        var leaves = Flat(tree, out var def);
        var info = def.LeafInfo("tree").ToArray();
        var mapped = leaves.Select((l, i) => info[i].Kind == Kind.Static ? l : Back(f(AsTensor(l)), info[i].Type, info[i].Path)).ToList();
        int pos = 0;
        return (T)def.Unflatten(mapped, ref pos)!;
    }

    /// <summary>Applies <paramref name="f"/> to matching floating leaves of two trees of the same type; static leaves come from <paramref name="a"/>.</summary>
    public static T Map<T>(Func<Tensor, Tensor, Tensor> f, T a, T b)
    {
        ArgumentNullException.ThrowIfNull(f);
        var la = Flat(a, out var def, nameof(a));
        var lb = Flat(b, out _, nameof(b));
        var info = def.LeafInfo("a").ToArray();
        var mapped = la.Select((l, i) => info[i].Kind == Kind.Static ? l : Back(f(AsTensor(l), AsTensor(lb[i])), info[i].Type, info[i].Path)).ToList();
        int pos = 0;
        return (T)def.Unflatten(mapped, ref pos)!;
    }

    /// <summary>Pairs of matching floating leaves of two trees of the same type.</summary>
    public static IEnumerable<(Tensor A, Tensor B)> Zip<T>(T a, T b) => Leaves(a).Zip(Leaves(b));

    /// <summary>
    /// Flattens the floating leaves into one vector (float64 if any leaf is float64, else float32) and returns the
    /// way back: <c>unravel(flat)</c> rebuilds a tree of the same type, shapes and dtypes, with the static leaves of <paramref name="tree"/>.
    /// </summary>
    public static (Tensor Flat, Func<Tensor, T> Unravel) Ravel<T>(T tree)
    {
        var leaves = Flat(tree, out var def);
        var info = def.LeafInfo("").ToArray();
        var tensors = leaves.Select((l, i) => info[i].Kind == Kind.Static ? null : AsTensor(l)).ToArray();
        var floating = tensors.Where(t => t is not null).Select(t => t!).ToArray();
        var dtype = floating.Any(t => t.DType == DType.Float64) ? DType.Float64 : DType.Float32;
        var flat = floating.Length == 0 ? Np.Zeros([0], dtype)
            : Np.Concatenate(floating.Select(t => Np.Reshape(t.AsType(dtype), [t.Size])).ToArray(), 0);
        int total = flat.Size;
        T Unravel(Tensor v)
        {
            ArgumentNullException.ThrowIfNull(v);
            if (v.Rank != 1 || v.Size != total)
                throw new ShapeException($"Tree.Ravel(...).Unravel(v: {v.Aval})", [v.Aval], $"expects a vector of {total} elements, the size of the raveled tree");
            var data = v.ToDoubleArray();
            int offset = 0;
            var rebuilt = new List<object?>();
            for (int i = 0; i < leaves.Count; i++)
            {
                if (tensors[i] is not { } t) { rebuilt.Add(leaves[i]); continue; }
                var part = new Tensor(data[offset..(offset + t.Size)], t.Shape.ToArray()).AsType(t.DType);
                offset += t.Size;
                rebuilt.Add(Back(part, info[i].Type, info[i].Path));
            }
            int pos = 0;
            return (T)def.Unflatten(rebuilt, ref pos)!;
        }
        return (flat, Unravel);
    }

    /// <summary>
    /// A tree shaped like <paramref name="template"/> filled with independent normal samples times <paramref name="scale"/>,
    /// reproducible from <paramref name="key"/> (each leaf gets its own split of the key). Static leaves are copied.
    /// </summary>
    public static T Normal<T>(PrngKey key, T template, double scale = 1.0)
    {
        var leaves = Flat(template, out var def);
        var info = def.LeafInfo("").ToArray();
        var keys = key.Split(Math.Max(1, leaves.Count));
        var filled = leaves.Select((l, i) =>
        {
            if (info[i].Kind == Kind.Static) return l;
            var t = AsTensor(l);
            return Back(Rng.Normal(keys[i], t.Shape.ToArray(), t.DType) * scale, info[i].Type, info[i].Path);
        }).ToList();
        int pos = 0;
        return (T)def.Unflatten(filled, ref pos)!;
    }
}
