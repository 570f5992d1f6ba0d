using System.Reflection;

namespace Functional.AD;

/// <summary>
/// Contractions: one primitive, <c>Einsum(spec)</c>, multilinear in its operands, and its transposed form
/// <c>EinsumLike(spec, like)</c> (shaped like an aval: the transpose with respect to operand i is the einsum of the
/// cotangent with the other operands, shaped like operand i). The spec is text (Tensors/EinsumEngine.cs) resolved against
/// concrete shapes, so ranks need not be known when an expression is read: <c>...</c> and <c>*</c> stand for the axes
/// not named. The JVP is the sum of the einsums with one operand replaced by its tangent; Vmap prepends one letter per
/// batch axis. The CPU computes it with transposes, reshapes and one batched GEMM per pair (the pair with the smallest
/// result first); Torch with libtorch's einsum. Np.Einsum and Np.TensorDot(a, b, n) read as it; TensorDot with axis
/// lists and Outer are composites over it.
/// </summary>
internal static partial class Prims
{
    /// <summary>Einstein summation over its operands.</summary>
    public static Primitive Einsum { get { if (einsum is null) Vocabulary.Ensure(); return einsum!; } private set => einsum = value; }
    static Primitive? einsum;
    /// <summary>An einsum shaped like its aval operand (the transpose of <see cref="Einsum"/>).</summary>
    public static Primitive EinsumLike { get { if (einsumLike is null) Vocabulary.Ensure(); return einsumLike!; } private set => einsumLike = value; }
    static Primitive? einsumLike;
    /// <summary>TensorDot with axis lists: moves, then an einsum.</summary>
    public static Primitive TensorDotAxes { get { if (tensorDotAxes is null) Vocabulary.Ensure(); return tensorDotAxes!; } private set => tensorDotAxes = value; }
    static Primitive? tensorDotAxes;
    /// <summary>Outer: two flattens, then an einsum.</summary>
    public static Primitive Outer { get { if (outer is null) Vocabulary.Ensure(); return outer!; } private set => outer = value; }
    static Primitive? outer;

    static int EinsumOffset(Primitive p) => p == EinsumLike ? 1 : 0;

    static UnsupportedExpressionException Unreadable(string call, string detail) => new($"{call}: {detail}", call);

    static void DeclareContractions()
    {
        Type S = typeof(string), TA = typeof(Tensor[]);
        var laxEinsum = Lax_("Einsum", S, TA);
        var npEinsum = Np_("Einsum", S, TA);
        var tensorDotN = Np_("TensorDot", T, T, typeof(int));
        var kron = Np_("Kron", T, T);
        Einsum = Def("Einsum", laxEinsum, aliases: [npEinsum, tensorDotN, kron]);
        readsAs[kron] = _ => (Einsum, new Params("kron"));
        EinsumLike = Def("EinsumLike", Lax_("EinsumLike", S, A, TA));
        EinsumLike.NonDiff = [0];
        readsAs[npEinsum] = s => (Einsum, new Params(EinsumEngine.CanonicalNumpy((string)s[0]!)));
        readsAs[laxEinsum] = s => (Einsum, new Params(EinsumEngine.IsKron((string)s[0]!) ? (string)s[0]! : EinsumEngine.Text(EinsumEngine.Parse((string)s[0]!, lax: true))));
        readsAs[tensorDotN] = s => (int)s[0]! is var n and >= 0 ? (Einsum, new Params(Np.TensorDotSpec(n)))
            : throw Unreadable($"Np.TensorDot(a, b, {s[0]})", "the axis count must be non-negative");

        foreach (var p in new[] { Einsum, EinsumLike })
        {
            var prim = p;
            int off = EinsumOffset(p);
            prim.Family = PrimFamily.Structure;
            // multilinear: the tangent is the sum of the einsums with one operand replaced by its tangent
            prim.Jvp = (c, t) =>
            {
                V? sum = null;
                for (int i = off; i < c.X.Length; i++)
                    if (t[i] is { } ti)
                        sum = Sum2(sum, Ap(prim, c.X.Select((x, j) => j == i ? ti : x).ToArray(), c.P));
                return sum;
            };
            // the cotangent of operand i: the einsum of ct with the others, shaped like operand i
            prim.Transpose = (c, ct) =>
            {
                if (EinsumEngine.IsKron(c.P.Get<string>(0))) return KronTranspose(c, ct);
                var spec = EinsumEngine.Parse(c.P.Get<string>(0), lax: true);
                var r = new V?[c.X.Length];
                for (int i = off; i < c.X.Length; i++)
                {
                    if (!c.Linear[i]) continue;
                    int t = i - off;
                    var terms = new[] { spec.Out }.Concat(spec.In.Where((_, j) => j != t)).ToArray();
                    var text = EinsumEngine.Text(new EinsumEngine.Parsed(terms, spec.In[t]));
                    var ops = new[] { c.Aval(i), ct }.Concat(c.X.Where((_, j) => j >= off && j != i)).ToArray();
                    r[i] = Own(c, i, Ap(EinsumLike, ops, new Params(text)));
                }
                return r;
            };
            prim.AvalRule = (n, a) =>
            {
                if (n.Batch > 0) return Unbatch.AvalOf(n.Op, n.Params, n.Batch, n.Args.Select(x => x.Kind).ToArray(), a);
                var ins = a[off..];
                var r = EinsumEngine.Resolve(n.Params.Get<string>(0), ins, off == 1 ? a[0] : null);
                var (dt, weak) = EinsumEngine.Promoted(ins, n.Params.Get<string>(0));
                return Aval.Intern(EinsumEngine.OutDims(r), dt, weak);
            };
            prim.FormatRule = (a, _, prm) =>
            {
                var spec = prm.Get<string>(0);
                var lit = Printer.Literal(spec);
                if (off == 1) return $"Lax.EinsumLike({lit}, {string.Join(", ", a)})";
                if (spec == "kron") return $"Np.Kron({a[0]}, {a[1]})";
                return spec.Contains('*') || EinsumEngine.IsKron(spec) ? $"Lax.Einsum({lit}, {string.Join(", ", a)})" : $"Np.Einsum({lit}, {string.Join(", ", a)})";
            };
            Batch(prim, EinsumBatch);
        }

        // TensorDot with axis lists: the listed axes of a moved to its end and those of b to its front, then TensorDot(n)
        var tensorDotAxes = Np_("TensorDot", T, T, typeof(int[]), typeof(int[]));
        TensorDotAxes = Def("TensorDotAxes", tensorDotAxes);
        TensorDotAxes.Family = PrimFamily.Structure;
        readsAs[tensorDotAxes] = s => (TensorDotAxes, new Params(s[0], s[1]));
        TensorDotAxes.Rewrite = (b, a, prm) =>
        {
            var (xa, xb) = (prm.Get<int[]>(0), prm.Get<int[]>(1));
            string call = $"Np.TensorDot(a, b, {Printer.Literal(xa)}, {Printer.Literal(xb)})";
            if (xa.Length != xb.Length) throw Unreadable(call, $"axesA names {xa.Length} axes and axesB {xb.Length}; give one axis of b for each axis of a");
            foreach (var xs in new[] { xa, xb })
            {
                if (xs.Distinct().Count() != xs.Length) throw Unreadable(call, "an axis is named twice; name each axis once");
                if (xs.Any(x => x < 0) && xs.Any(x => x >= 0))
                    throw Unreadable(call, "inside an expression each axis list must be all non-negative or all negative (the rank is not known when the expression is read)");
            }
            var na = a[0];
            foreach (var (ax, to) in Np.TensorDotMoves(xa, toEnd: true)) na = b.Apply(MoveAxis, [na], new Params(ax, to));
            var nb = a[1];
            foreach (var (ax, to) in Np.TensorDotMoves(xb, toEnd: false)) nb = b.Apply(MoveAxis, [nb], new Params(ax, to));
            return b.Apply(Einsum, [na, nb], new Params(Np.TensorDotSpec(xa.Length)));
        };
        composites.Add(TensorDotAxes);
        Batch(TensorDotAxes, BatchRules.Never);

        var outer = Np_("Outer", T, T);
        Outer = Def("Outer", outer);
        Outer.Family = PrimFamily.Structure;
        Outer.Rewrite = (b, a, _) => b.Apply(Einsum, [b.Apply(Reshape, [a[0]], new Params((object)new[] { -1 })), b.Apply(Reshape, [a[1]], new Params((object)new[] { -1 }))],
            new Params("i,j->ij"));
        composites.Add(Outer);
        Batch(Outer, BatchRules.Never);
    }

    /// <summary>
    /// Vmap of an einsum: one new letter per batch axis, in front of every operand that has that batch axis at full size
    /// and of the output (an operand whose batch axis has size 1 loses the axis, so nothing is copied); an aval operand
    /// keeps its core shape under the batch shape.
    /// </summary>
    static Node EinsumBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int off = EinsumOffset(p);
        if (EinsumEngine.IsKron(prm.Get<string>(0))) return KronBatch(u, p, a, prm, k);
        var spec = EinsumEngine.Parse(prm.Get<string>(0), lax: true);
        var used = spec.In.SelectMany(t => t).Concat(spec.Out).ToHashSet();
        var letters = Enumerable.Range(0, 52).Where(l => !used.Contains(l)).Take(k).ToArray();
        if (letters.Length < k) throw new VmapException($"Ad.Vmap: the einsum \"{prm.Get<string>(0)}\" uses too many letters to add {k} batch axes (52 letters in all)");
        var batch = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in a.Skip(off))
        {
            var (bx, _) = BatchRules.Split(u.Dims(x), k);
            for (int j = 0; j < k; j++) if (bx[j] != 1) batch[j] = bx[j];
        }
        var ops = new List<Node>();
        var terms = new List<int[]>();
        for (int i = off; i < a.Length; i++)
        {
            var (bx, cx) = BatchRules.Split(u.Dims(a[i]), k);
            var keep = Enumerable.Range(0, k).Where(j => bx[j] == batch[j]).ToArray();
            ops.Add(u.Reshape(a[i], [.. keep.Select(j => bx[j]), .. cx]));
            terms.Add([.. keep.Select(j => letters[j]), .. spec.In[i - off]]);
        }
        var text = EinsumEngine.Text(new EinsumEngine.Parsed(terms.ToArray(), [.. letters, .. spec.Out]));
        if (off == 0) return u.Apply(p, ops.ToArray(), new Params(text));
        var like = u.A(a[0]);
        var likeCore = BatchRules.Split(like.Dims, k).Core;
        return u.Apply(p, [u.AvalConst([.. batch, .. likeCore], like), .. ops], new Params(text));
    }

    /// <summary>
    /// The transposes of Kron: of <c>kron(a, b)</c>, <c>kronT0(ct, b)</c> shaped like a and <c>kronT1(ct, a)</c> shaped like
    /// b; of <c>kronT0(ct, b)</c> (a sum over b's letters), <c>kron(g, b)</c> for ct and <c>kronT1(ct, g)</c> for b; and
    /// the mirror images for <c>kronT1</c>.
    /// </summary>
    static V?[] KronTranspose(RuleCtx c, V ct)
    {
        var (kind, k) = EinsumEngine.KronParts(c.P.Get<string>(0));
        V Like(string kd, V like, V x, V y) => Ap(EinsumLike, [like, x, y], new Params(EinsumEngine.KronSpec(kd, k)));
        V Kron(V x, V y) => Ap(Einsum, [x, y], new Params(EinsumEngine.KronSpec("kron", k)));
        if (kind == "kron")
            return [c.Linear[0] ? Own(c, 0, Like("kronT0", c.Aval(0), ct, c.X[1])) : null, c.Linear[1] ? Own(c, 1, Like("kronT1", c.Aval(1), ct, c.X[0])) : null];
        // EinsumLike: operands like, the cotangent of kron, the other factor
        bool t0 = kind == "kronT0";
        return [null,
            c.Linear[1] ? Own(c, 1, t0 ? Kron(ct, c.X[2]) : Kron(c.X[2], ct)) : null,
            c.Linear[2] ? Own(c, 2, Like(t0 ? "kronT1" : "kronT0", c.Aval(2), c.X[1], ct)) : null];
    }

    /// <summary>Vmap of Kron and its transposes: the operands brought to one batch shape, shared by the spec's ":k".</summary>
    static Node KronBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int off = EinsumOffset(p);
        var (kind, k0) = EinsumEngine.KronParts(prm.Get<string>(0));
        var batch = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in a)
        {
            var (bx, _) = BatchRules.Split(u.Dims(x), k);
            for (int j = 0; j < k; j++) if (bx[j] != 1) batch[j] = bx[j];
        }
        var ops = new List<Node>();
        if (off == 1)
        {
            var like = u.A(a[0]);
            ops.Add(u.AvalConst([.. batch, .. BatchRules.Split(like.Dims, k).Core], like));
        }
        foreach (var x in a.Skip(off))
        {
            var (bx, cx) = BatchRules.Split(u.Dims(x), k);
            ops.Add(u.BroadcastTo(u.Reshape(x, [.. bx, .. cx]), [.. batch, .. cx]));
        }
        return u.Apply(p, ops.ToArray(), new Params(EinsumEngine.KronSpec(kind, k0 + k)));
    }
}
