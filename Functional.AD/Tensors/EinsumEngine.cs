using System.Globalization;
using System.Text;

namespace Functional.AD;

/// <summary>
/// Einstein summation: a subscripts string resolved against concrete shapes into integer labels, then computed with
/// transposes, reshapes and one batched matrix product per pair of operands, the pairs chosen greedily (the pair whose
/// result is smallest first). Used by <see cref="Np.Einsum"/>, <see cref="Np.TensorDot(Tensor, Tensor, int)"/>,
/// <see cref="Lax.Einsum"/> and <see cref="Lax.EinsumLike"/>, and by the Torch lowering (which hands the resolved
/// labels to libtorch's einsum).
/// <para>Grammar: numpy's (letters, one <c>...</c> per term that broadcasts, <c>-&gt;</c> optional), and for the Lax
/// forms: a second ellipsis <c>*</c> that does not broadcast (TensorDot's "the rest of b"); with an aval
/// <c>like</c>, output letters may repeat (a diagonal embedded in zeros) or appear in no operand (broadcast to like's
/// size), and the output ellipsis takes like's shape (input ellipsis axes not in it are summed).</para>
/// </summary>
internal static class EinsumEngine
{
    const int Ellipsis = -1, Star = -2;

    /// <summary>The labels of every operand axis and of every output axis, and the size of each label.</summary>
    internal sealed record Resolved(int[][] In, int[] Out, Dictionary<int, int> Size)
    {
        /// <summary>Per operand, the dims it is reshaped to before its labels apply (null: as it is); Kron splits merged axes so.</summary>
        public int[]?[]? Split { get; init; }
        /// <summary>The dims the result is reshaped to at the end (null: the labels' sizes); Kron merges pairs of axes so.</summary>
        public int[]? Merged { get; init; }
    }

    /// <summary>A parsed subscripts string: the terms of the operands and of the output (always explicit).</summary>
    internal sealed record Parsed(int[][] In, int[] Out);

    static int Letter(char ch) => ch is >= 'a' and <= 'z' ? ch - 'a' : ch is >= 'A' and <= 'Z' ? 26 + ch - 'A' : -100;
    internal static char Char(int label) => label < 26 ? (char)('a' + label) : (char)('A' + label - 26);

    static int[] Term(string s, string spec, bool lax)
    {
        var r = new List<int>();
        for (int i = 0; i < s.Length; i++)
        {
            char ch = s[i];
            if (char.IsWhiteSpace(ch)) continue;
            if (ch == '.')
            {
                if (i + 2 >= s.Length || s[i + 1] != '.' || s[i + 2] != '.')
                    throw Bad(spec, "a '.' that is not part of an ellipsis '...'");
                if (r.Contains(Ellipsis)) throw Bad(spec, $"the term '{s.Trim()}' has two ellipses; write '...' at most once per term");
                r.Add(Ellipsis);
                i += 2;
            }
            else if (ch == '*' && lax)
            {
                if (r.Contains(Star)) throw Bad(spec, $"the term '{s.Trim()}' has two '*'");
                r.Add(Star);
            }
            else if (Letter(ch) >= 0) r.Add(Letter(ch));
            else throw Bad(spec, $"the character '{ch}' is not a subscript; subscripts are the letters a-z and A-Z, ',' between operands, '->' before the output and '...'");
        }
        return r.ToArray();
    }

    static UnsupportedExpressionException Bad(string spec, string detail) =>
        new($"Np.Einsum(\"{spec}\"): {detail}", $"Np.Einsum(\"{spec}\", ...)");

    /// <summary>Parses <paramref name="spec"/> (numpy's grammar; <paramref name="lax"/> also <c>*</c>), making the output explicit.</summary>
    internal static Parsed Parse(string spec, bool lax)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int arrow = spec.IndexOf("->", StringComparison.Ordinal);
        if (arrow >= 0 && spec.IndexOf("->", arrow + 2, StringComparison.Ordinal) >= 0) throw Bad(spec, "'->' appears twice");
        var lhs = arrow >= 0 ? spec[..arrow] : spec;
        var ins = lhs.Split(',').Select(t => Term(t, spec, lax)).ToArray();
        int[] outT;
        if (arrow >= 0) outT = Term(spec[(arrow + 2)..], spec, lax);
        else
        {
            // numpy's implicit output: the ellipsis, then the letters that appear once, in alphabetical order
            var once = ins.SelectMany(t => t).Where(l => l >= 0).GroupBy(l => l).Where(g => g.Count() == 1).Select(g => g.Key)
                .OrderBy(l => Char(l)).ToList();
            var o = new List<int>();
            if (ins.Any(t => t.Contains(Ellipsis))) o.Add(Ellipsis);
            if (ins.Any(t => t.Contains(Star))) o.Add(Star);
            o.AddRange(once);
            outT = o.ToArray();
        }
        if (outT.Contains(Ellipsis) && !ins.Any(t => t.Contains(Ellipsis)) && !lax)
            throw Bad(spec, "the output has '...' but no operand has");
        return new Parsed(ins, outT);
    }

    /// <summary>The canonical text of a parsed spec (explicit output, no spaces).</summary>
    internal static string Text(Parsed p)
    {
        static string T(int[] t) => string.Concat(t.Select(l => l == Ellipsis ? "..." : l == Star ? "*" : Char(l).ToString()));
        return string.Join(",", p.In.Select(T)) + "->" + T(p.Out);
    }

    /// <summary>Checks a numpy spec at read time: every output letter in some operand, none twice.</summary>
    internal static string CanonicalNumpy(string spec)
    {
        var p = Parse(spec, lax: false);
        var letters = p.In.SelectMany(t => t).ToHashSet();
        foreach (var l in p.Out.Where(l => l >= 0))
        {
            if (!letters.Contains(l)) throw Bad(spec, $"the output letter '{Char(l)}' appears in no operand");
            if (p.Out.Count(x => x == l) > 1) throw Bad(spec, $"the output letter '{Char(l)}' appears twice");
        }
        return Text(p);
    }

    static string Call(string spec, Aval[] ins, Aval? like) =>
        $"Np.Einsum(\"{spec}\", {string.Join(", ", ins.Select(a => a.ToString()))}{(like is null ? "" : $", like: {like}")})";

    /// <summary>Resolves <paramref name="spec"/> against the operands' shapes (and <paramref name="like"/>'s).</summary>
    internal static Resolved Resolve(string spec, Aval[] ins, Aval? like, bool lax = true)
    {
        if (IsKron(spec)) return ResolveKron(spec, ins, like);
        var p = Parse(spec, lax);
        var shapes = like is null ? ins : [.. ins, like];
        ShapeException Err(string detail) => new(Call(spec, ins, like), shapes, detail);
        if (p.In.Length != ins.Length)
            throw Err($"the subscripts name {p.In.Length} operand(s) but {ins.Length} were given");
        int Letters(int[] t) => t.Count(l => l >= 0);
        // the rank of '*': from an operand (or like) that has it without '...'
        int? star = null;
        void StarFrom(int[] t, int rank)
        {
            if (!t.Contains(Star) || t.Contains(Ellipsis)) return;
            int r = rank - Letters(t);
            if (r < 0) throw Err($"a term '{string.Concat(t.Select(l => l >= 0 ? Char(l).ToString() : l == Star ? "*" : "..."))}' has more subscripts than its operand's rank {rank}");
            if (star is { } s && s != r) throw Err($"'*' stands for {s} axes in one operand and {r} in another");
            star = r;
        }
        for (int i = 0; i < ins.Length; i++) StarFrom(p.In[i], ins[i].Rank);
        if (like is not null) StarFrom(p.Out, like.Rank);
        var ell = new int[ins.Length];
        for (int i = 0; i < ins.Length; i++)
        {
            var t = p.In[i];
            int r = ins[i].Rank - Letters(t) - (t.Contains(Star) ? star ?? throw Err("the number of axes '*' stands for is not known from any operand") : 0);
            if (!t.Contains(Ellipsis) && r != 0 || r < 0)
                throw Err($"operand {i} has rank {ins[i].Rank} but its subscripts '{TermText(t)}' name {Letters(t)} axes{(t.Contains(Ellipsis) ? " and more" : "")}");
            ell[i] = t.Contains(Ellipsis) ? r : 0;
        }
        // the broadcast ellipsis shape, right-aligned
        int e = ell.DefaultIfEmpty(0).Max();
        var bsize = Enumerable.Repeat(1, e).ToArray();
        for (int i = 0; i < ins.Length; i++)
        {
            int start = Array.IndexOf(p.In[i], Ellipsis);
            if (start < 0) continue;
            for (int q = 0; q < ell[i]; q++)
            {
                int j = e - ell[i] + q, d = ins[i].Dims[start + q];
                if (d == bsize[j] || d == 1) continue;
                if (bsize[j] != 1) throw Err($"the '...' axes do not broadcast: sizes {bsize[j]} and {d}");
                bsize[j] = d;
            }
        }
        var size = new Dictionary<int, int>();
        int fresh = 10000;
        int Fresh(int s) { size[fresh] = s; return fresh++; }
        void Sized(int label, int s)
        {
            if (size.TryGetValue(label, out var had) && had != s)
                throw Err(label < 52 ? $"the letter '{Char(label)}' has size {had} in one place and {s} in another" : $"the '*' axes differ in size ({had} vs {s})");
            size[label] = s;
        }
        var inL = new int[ins.Length][];
        for (int i = 0; i < ins.Length; i++)
        {
            var labels = new List<int>();
            var dims = ins[i].Dims;
            foreach (var tok in p.In[i])
            {
                if (tok >= 0) { Sized(tok, dims[labels.Count]); labels.Add(tok); }
                else if (tok == Star) for (int q = 0; q < star; q++) { Sized(2000 + q, dims[labels.Count]); labels.Add(2000 + q); }
                else
                    for (int q = 0; q < ell[i]; q++)
                    {
                        int j = e - ell[i] + q, d = dims[labels.Count];
                        if (d == bsize[j]) { Sized(1000 + j, d); labels.Add(1000 + j); }
                        else labels.Add(Fresh(d));     // a size-1 axis broadcast against a larger one: summed on its own
                    }
            }
            inL[i] = labels.ToArray();
        }
        var outL = new List<int>();
        int outLetters = Letters(p.Out) + (p.Out.Contains(Star) ? star ?? throw Err("the number of axes '*' stands for is not known") : 0);
        int likeEll = like is null ? e : like.Rank - outLetters;
        if (like is not null && (likeEll < 0 || !p.Out.Contains(Ellipsis) && likeEll != 0))
            throw Err($"like has rank {like.Rank} but the output subscripts '{TermText(p.Out)}' name {outLetters} axes");
        foreach (var tok in p.Out)
        {
            if (tok >= 0) outL.Add(tok);
            else if (tok == Star) for (int q = 0; q < star; q++) outL.Add(2000 + q);
            else
                for (int q = 0; q < likeEll; q++)
                {
                    int j = e - likeEll + q;
                    if (like is null) { outL.Add(1000 + j); continue; }
                    int d = like.Dims[outL.Count];
                    if (j >= 0 && d == bsize[j]) outL.Add(1000 + j);
                    else if (j < 0 || d == 1 || bsize[j] == 1) outL.Add(Fresh(d));   // like's axis broadcast from, or summed to, size 1
                    else throw Err($"like's '...' axis of size {d} does not match the operands' {bsize[j]}");
                }
        }
        var present = inL.SelectMany(l => l).ToHashSet();
        for (int q = 0; q < outL.Count; q++)
        {
            int l = outL[q];
            if (like is not null)
            {
                int d = like.Dims[q];
                if (size.TryGetValue(l, out var s) && s != d) throw Err($"like's axis {q} has size {d} but its letter has size {s} in the operands");
                size[l] = d;
            }
            else if (!present.Contains(l)) throw Err($"the output letter '{(l < 52 ? Char(l) : '?')}' appears in no operand");
        }
        return new Resolved(inL, outL.ToArray(), size);
    }

    static string TermText(int[] t) => string.Concat(t.Select(l => l == Ellipsis ? "..." : l == Star ? "*" : Char(l).ToString()));

    /// <summary>The output dims of a resolved spec.</summary>
    internal static int[] OutDims(Resolved r) => r.Merged ?? LabelDims(r);

    static int[] LabelDims(Resolved r) => r.Out.Select(l => r.Size[l]).ToArray();

    // ------------------------------------------------------------------ Kron
    // "kron" is numpy's kron(a, b); "kronT0" (operands ct, b; like a) and "kronT1" (ct, a; like b) its transposes. A
    // suffix ":k" shares the first k axes of every operand (Vmap's batch axes). Ranks are padded with leading size-1 axes
    // to the larger one; a merged output axis (i, k) has size n_i * p_k and splits back into its two letters.

    internal static bool IsKron(string spec) => spec.StartsWith("kron", StringComparison.Ordinal);

    internal static (string Kind, int Batch) KronParts(string spec)
    {
        int colon = spec.IndexOf(':');
        return colon < 0 ? (spec, 0) : (spec[..colon], int.Parse(spec[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    internal static string KronSpec(string kind, int batch) => batch == 0 ? kind : $"{kind}:{Invariant(batch)}";

    static Resolved ResolveKron(string spec, Aval[] ins, Aval? like)
    {
        var (kind, k) = KronParts(spec);
        var shapes = like is null ? ins : [.. ins, like];
        ShapeException Err(string detail) => new(kind == "kron" ? ShapeException.Call("Np.Kron", ("a", ins[0]), ("b", ins.Length > 1 ? ins[1] : ins[0])) : Call(spec, ins, like), shapes, detail);
        if (ins.Length != 2 || kind != "kron" && like is null || kind is not ("kron" or "kronT0" or "kronT1"))
            throw Err("kron takes two operands (its transposes an aval too)");
        foreach (var a in shapes) if (a.Rank < k) throw Err($"every operand needs the {k} shared leading axes");
        var batch = ins[0].Dims[..k];
        foreach (var a in shapes)
            if (!a.Dims[..k].AsSpan().SequenceEqual(batch)) throw Err("the shared leading axes differ");
        static int[] Pad(int[] core, int r) => [.. Enumerable.Repeat(1, r - core.Length), .. core];
        int[] bl = Enumerable.Range(0, k).Select(j => 3000 + j).ToArray();
        var size = new Dictionary<int, int>();
        for (int j = 0; j < k; j++) size[bl[j]] = batch[j];
        // the padded cores of a and b
        int[] pa, pb;
        int r;
        if (kind == "kron")
        {
            var (ca, cb) = (ins[0].Dims[k..], ins[1].Dims[k..]);
            r = Math.Max(ca.Length, cb.Length);
            (pa, pb) = (Pad(ca, r), Pad(cb, r));
        }
        else
        {
            var ct = ins[0].Dims[k..];
            r = ct.Length;
            var other = ins[1].Dims[k..];
            var mine = like!.Dims[k..];
            if (other.Length > r || mine.Length > r) throw Err($"the cotangent's rank {r} is below an operand's");
            (pa, pb) = kind == "kronT0" ? (Pad(mine, r), Pad(other, r)) : (Pad(other, r), Pad(mine, r));
            for (int i = 0; i < r; i++)
                if (pa[i] * pb[i] != ct[i]) throw Err($"the cotangent's axis {i} has size {ct[i]}, not {pa[i]} * {pb[i]}");
        }
        var al = Enumerable.Range(0, r).Select(i => 4000 + i).ToArray();
        var blb = Enumerable.Range(0, r).Select(i => 5000 + i).ToArray();
        for (int i = 0; i < r; i++) { size[al[i]] = pa[i]; size[blb[i]] = pb[i]; }
        int[] zipped = [.. bl, .. Enumerable.Range(0, r).SelectMany(i => new[] { al[i], blb[i] })];
        int[] zippedDims = [.. batch, .. Enumerable.Range(0, r).SelectMany(i => new[] { pa[i], pb[i] })];
        if (kind == "kron")
            return new Resolved([[.. bl, .. al], [.. bl, .. blb]], zipped, size)
            {
                Split = [[.. batch, .. pa], [.. batch, .. pb]],
                Merged = [.. batch, .. Enumerable.Range(0, r).Select(i => pa[i] * pb[i])],
            };
        bool t0 = kind == "kronT0";
        int mineRank = like!.Rank - k;
        var mineL = (t0 ? al : blb)[(r - mineRank)..];
        return new Resolved([zipped, [.. bl, .. (t0 ? blb : al)]], [.. bl, .. mineL], size)
        {
            Split = [zippedDims, [.. batch, .. (t0 ? pb : pa)]],
        };
    }

    /// <summary>The promoted dtype of the operands (arithmetic: bool refused).</summary>
    internal static (DType, bool) Promoted(Aval[] ins, string spec)
    {
        if (ins.Length == 0) throw new ShapeException($"Np.Einsum(\"{spec}\")", [], "einsum takes at least one operand");
        var (dt, weak) = (ins[0].DType, ins[0].Weak);
        for (int i = 1; i < ins.Length; i++) (dt, weak) = DTypes.Promote(dt, weak, ins[i].DType, ins[i].Weak);
        if (dt == DType.Bool)
            throw new ShapeException($"Np.Einsum(\"{spec}\")", ins, "arithmetic on bool tensors is not defined; convert with AsType(DType.Int32) or AsType(DType.Float32)");
        return (dt, weak);
    }

    /// <summary>The einsum of <paramref name="xs"/> (shaped like <paramref name="like"/> when given).</summary>
    internal static Tensor Run(string spec, Aval? like, Tensor[] xs, bool lax)
    {
        ArgumentNullException.ThrowIfNull(xs);
        foreach (var x in xs) ArgumentNullException.ThrowIfNull(x);
        var avals = xs.Select(x => x.Aval).ToArray();
        var r = Resolve(spec, avals, like, lax);
        var (dt, _) = Promoted(avals, spec);
        if (DTypes.IsHalf(dt)) return Eager.ViaFloat32(dt, ys => Compute(r, ys.Select(y => Eager.To(y, DType.Float32)).ToArray()), xs);
        return Compute(r, xs.Select(x => Eager.To(x, dt)).ToArray());
    }

    static Tensor Compute(Resolved r, Tensor[] xs)
    {
        var work = xs.Select((x, i) => (T: r.Split?[i] is { } d ? Np.Reshape(x, d) : x, L: r.In[i].ToList())).ToList();
        var outSet = r.Out.ToHashSet();
        // each operand alone: its diagonals taken, the letters no one else needs summed
        for (int i = 0; i < work.Count; i++)
        {
            var (t, l) = work[i];
            (t, l) = Diagonals(t, l, r.Size);
            var others = work.Where((_, j) => j != i).SelectMany(w => w.L).Concat(outSet).ToHashSet();
            (t, l) = SumOut(t, l, others);
            work[i] = (t, l);
        }
        while (work.Count > 1)
        {
            var (bi, bj) = Greedy(work.Select(w => w.L).ToList(), outSet, r.Size);
            var k2 = Keep(work, bi, bj, outSet);
            var c = Pair(work[bi].T, work[bi].L, work[bj].T, work[bj].L, k2, r.Size);
            work.RemoveAt(bj);
            work[bi] = c;
        }
        var (res, labels) = SumOut(work[0].T, work[0].L, outSet);
        var y = Output(res, labels, r);
        return r.Merged is { } m ? Np.Reshape(y, m) : y;
    }

    static HashSet<int> Keep(List<(Tensor T, List<int> L)> work, int i, int j, HashSet<int> outSet) =>
        Keep(work.Select(w => w.L).ToList(), i, j, outSet);

    static HashSet<int> Keep(List<List<int>> labels, int i, int j, HashSet<int> outSet) =>
        labels.Where((_, k) => k != i && k != j).SelectMany(l => l).Concat(outSet).ToHashSet();

    /// <summary>The pair to contract next: the one whose result (the letters still needed) has the fewest elements; the first such pair on a tie.</summary>
    static (int, int) Greedy(List<List<int>> labels, HashSet<int> outSet, Dictionary<int, int> size)
    {
        int bi = 0, bj = 1;
        double best = double.PositiveInfinity;
        for (int i = 0; i < labels.Count; i++)
            for (int j = i + 1; j < labels.Count; j++)
            {
                var keep = Keep(labels, i, j, outSet);
                double cost = labels[i].Union(labels[j]).Where(keep.Contains).Aggregate(1.0, (a, l) => a * size[l]);
                if (cost < best) { best = cost; bi = i; bj = j; }
            }
        return (bi, bj);
    }

    /// <summary>
    /// The order in which <see cref="Run"/> contracts the operands of <paramref name="spec"/> for these shapes: each step
    /// the two positions (in the list of what remains, the result taking the first position) contracted together.
    /// </summary>
    internal static List<(int, int)> Order(string spec, Aval[] ins)
    {
        var r = Resolve(spec, ins, null);
        var outSet = r.Out.ToHashSet();
        var labels = r.In.Select(l => l.Distinct().ToList()).ToList();
        for (int i = 0; i < labels.Count; i++)
        {
            var others = labels.Where((_, j) => j != i).SelectMany(l => l).Concat(outSet).ToHashSet();
            labels[i] = labels[i].Where(others.Contains).ToList();
        }
        var order = new List<(int, int)>();
        while (labels.Count > 1)
        {
            var (i, j) = Greedy(labels, outSet, r.Size);
            var keep = Keep(labels, i, j, outSet);
            labels[i] = labels[i].Union(labels[j]).Where(keep.Contains).ToList();
            labels.RemoveAt(j);
            order.Add((i, j));
        }
        return order;
    }

    /// <summary>Repeated letters of one operand: its diagonal, one axis per letter.</summary>
    static (Tensor, List<int>) Diagonals(Tensor t, List<int> l, Dictionary<int, int> size)
    {
        while (l.GroupBy(x => x).FirstOrDefault(g => g.Count() > 1) is { } g)
        {
            int label = g.Key, c = g.Count(), n = size[label];
            var at = l.Select((x, i) => (x, i)).Where(p => p.x == label).Select(p => p.i).ToArray();
            var rest = Enumerable.Range(0, l.Count).Except(at).ToArray();
            t = Np.Transpose(t, [.. at, .. rest]);
            var restDims = t.Dims[at.Length..];
            long step = 0, pw = 1;
            for (int q = 0; q < c; q++) { step += pw; pw *= n; }
            t = Np.Reshape(t, [(int)pw, .. restDims]);
            var idx = Enumerable.Range(0, n).Select(i => (int)(i * step)).ToArray();
            t = Np.Take(t, new Tensor(idx), 0);
            l = [label, .. rest.Select(i => l[i])];
        }
        return (t, l);
    }

    /// <summary>Sums the axes whose letters are not in <paramref name="keep"/>.</summary>
    static (Tensor, List<int>) SumOut(Tensor t, List<int> l, HashSet<int> keep)
    {
        for (int a = l.Count - 1; a >= 0; a--)
            if (!keep.Contains(l[a]))
            {
                t = Np.Sum(t, a, false);
                l = [.. l.Take(a), .. l.Skip(a + 1)];
            }
        return (t, l);
    }

    static int Prod(IEnumerable<int> labels, Dictionary<int, int> size) => labels.Aggregate(1, (a, l) => a * size[l]);

    /// <summary>One pair contracted by one batched matrix product: [batch, free a, contracted] x [batch, contracted, free b].</summary>
    static (Tensor, List<int>) Pair(Tensor a, List<int> la, Tensor b, List<int> lb, HashSet<int> keep, Dictionary<int, int> size)
    {
        (a, la) = SumOut(a, la, keep.Union(lb).ToHashSet());
        (b, lb) = SumOut(b, lb, keep.Union(la).ToHashSet());
        var batch = la.Where(x => lb.Contains(x) && keep.Contains(x)).ToList();
        var con = la.Where(x => lb.Contains(x) && !keep.Contains(x)).ToList();
        var fa = la.Where(x => !lb.Contains(x)).ToList();
        var fb = lb.Where(x => !la.Contains(x)).ToList();
        var a2 = Np.Reshape(Np.Transpose(a, [.. batch.Concat(fa).Concat(con).Select(x => la.IndexOf(x))]), [Prod(batch, size), Prod(fa, size), Prod(con, size)]);
        var b2 = Np.Reshape(Np.Transpose(b, [.. batch.Concat(con).Concat(fb).Select(x => lb.IndexOf(x))]), [Prod(batch, size), Prod(con, size), Prod(fb, size)]);
        var p = Np.MatMul(a2, b2);
        var labels = batch.Concat(fa).Concat(fb).ToList();
        return (Np.Reshape(p, labels.Select(x => size[x]).ToArray()), labels);
    }

    /// <summary>The result in the output's order: absent letters broadcast, repeated ones embedded on the diagonal.</summary>
    static Tensor Output(Tensor t, List<int> l, Resolved r)
    {
        var u = r.Out.Distinct().ToList();
        var present = u.Where(l.Contains).ToList();
        t = Np.Transpose(t, [.. present.Select(x => l.IndexOf(x))]);
        var uDims = u.Select(x => r.Size[x]).ToArray();
        if (present.Count != u.Count)
        {
            t = Np.Reshape(t, u.Select(x => l.Contains(x) ? r.Size[x] : 1).ToArray());
            t = Np.BroadcastTo(t, uDims);
        }
        if (u.Count == r.Out.Length) return t;
        // out[o..] = t[u..] where the repeated letters agree, zero elsewhere: a scatter onto the flattened output
        var outDims = LabelDims(r);
        var pos = EmbedPositions(r);
        int n = pos.Length, s = Kernels.Product(outDims);
        var flat = Lax.ScatterAdd(Np.Reshape(t, [n]), new Tensor(pos), 0, Aval.Intern([s], t.DType, t.IsWeak));
        return Np.Reshape(flat, outDims);
    }

    /// <summary>A resolved spec as text over at most 52 letters (for libtorch's einsum), with the output's distinct letters present in the operands.</summary>
    internal static (string Spec, int[] Present) TorchText(Resolved r)
    {
        var all = r.In.SelectMany(x => x).Distinct().ToList();
        if (all.Count > 52) throw new NotSupportedException("Np.Einsum: more than 52 distinct axes");
        var ch = all.Select((x, i) => (x, i)).ToDictionary(p => p.x, p => Char(p.i));
        var present = r.Out.Distinct().Where(ch.ContainsKey).ToArray();
        var sb = new StringBuilder();
        sb.Append(string.Join(",", r.In.Select(t => string.Concat(t.Select(x => ch[x])))));
        sb.Append("->").Append(string.Concat(present.Select(x => ch[x])));
        return (sb.ToString(), present);
    }

    /// <summary>Positions of the elements of the output's distinct letters (in order) within the flattened output (for embedding diagonals).</summary>
    internal static int[] EmbedPositions(Resolved r)
    {
        var u = r.Out.Distinct().ToList();
        var outDims = LabelDims(r);
        var strides = new long[outDims.Length];
        long s = 1;
        for (int q = outDims.Length - 1; q >= 0; q--) { strides[q] = s; s *= outDims[q]; }
        var uDims = u.Select(x => r.Size[x]).ToArray();
        var uStride = u.Select(x => Enumerable.Range(0, r.Out.Length).Where(q => r.Out[q] == x).Sum(q => strides[q])).ToArray();
        int n = Kernels.Product(uDims);
        var pos = new int[n];
        var idx = new int[u.Count];
        for (int e = 0; e < n; e++)
        {
            long p = 0;
            for (int q = 0; q < u.Count; q++) p += idx[q] * uStride[q];
            pos[e] = (int)p;
            for (int q = u.Count - 1; q >= 0; q--) { if (++idx[q] < uDims[q]) break; idx[q] = 0; }
        }
        return pos;
    }

    internal static string Invariant(int i) => i.ToString(CultureInfo.InvariantCulture);
}
