namespace Functional.AD;

/// <summary>What one <see cref="Ix"/> does to its axis.</summary>
/// <example><code>var kind = Ix.Range(1, 3).Kind;   // IxKind.Range; ((Ix)2).Kind is IxKind.Point</code></example>
public enum IxKind
{
    /// <summary>One position: the axis is removed (numpy's <c>x[i]</c>).</summary>
    Point,
    /// <summary>Positions start, start + step, ... before stop: the axis is kept (numpy's <c>x[a:b:s]</c>).</summary>
    Range,
    /// <summary>As many whole axes as the other indices leave (numpy's <c>...</c>); at most one in a list.</summary>
    Ellipsis,
    /// <summary>A new axis of length 1 in the result, taking no axis of x (numpy's <c>None</c>, <c>np.newaxis</c>).</summary>
    NewAxis,
    /// <summary>An index tensor (<see cref="Ix.Indices"/>): integers gather along the axis (numpy's <c>x[idx]</c>), a bool mask selects the true positions (<c>x[mask]</c>, eagerly only).</summary>
    Tensor,
}

/// <summary>
/// One index of a tensor's indexer or of <see cref="Tensor.At"/>: a position (an <c>int</c>, a <see cref="System.Index"/>
/// or <see cref="FromEnd"/>), a range (<see cref="Range(int?, int?, int)"/>, a <see cref="System.Range"/>, <see cref="All"/>),
/// numpy's <c>...</c> and <c>None</c> (<see cref="Ellipsis"/>, <see cref="NewAxis"/>), or, in the indexer, an index tensor
/// (<see cref="FromTensor"/>).
/// C#'s <c>^1</c> and <c>1..3</c> do not compile inside an expression lambda, so an expression writes
/// <c>x[Ix.FromEnd(1)]</c> and <c>x[Ix.Range(1, 3)]</c>; an <see cref="System.Index"/> or <see cref="System.Range"/>
/// built outside the lambda and captured converts to an <see cref="Ix"/> too. As in numpy, a negative int counts from
/// the end (<c>-1</c> is the last position) and indices past the last axis given take whole axes.
/// <para>Indices are static: they are read with the expression, and a position or bound outside the axis is a
/// <see cref="ShapeException"/> as soon as the shape is known (an eager call, Jit's specialisation), never clamped.
/// Traced positions are <see cref="Lax.DynamicSlice"/>'s business, which clamps as JAX does.</para>
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; x[0] + x[Ix.FromEnd(1)] + Np.Sum(x[Ix.All, Ix.Range(1, 3)]);
/// System.Range r = 1..^1;
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; inner = x =&gt; x[r, r];      // captured: every row and column but the edges
/// </code></example>
/// <param name="Kind">A position or a range.</param>
/// <param name="Start">The position (a point), or the first position of a range (<c>null</c>: from the start, or from
/// the end when the step is negative).</param>
/// <param name="Stop">The position a range stops before (<c>null</c>: to the end, or past the start when the step is negative).</param>
/// <param name="Step">The step of a range (not 0; negative walks backwards); 1 for a point.</param>
public sealed record Ix(IxKind Kind, Index? Start, Index? Stop, int Step)
{
    /// <summary>The whole axis (numpy's <c>x[:]</c>).</summary>
    public static Ix All { get; } = new(IxKind.Range, null, null, 1);

    /// <summary>
    /// As many whole axes as the other indices leave (numpy's <c>...</c>): <c>x[Ix.Ellipsis, 0]</c> is the first position
    /// of the last axis, whatever x's rank. At most one in an index list.
    /// </summary>
    /// <example><code>var lastColumn = x[Ix.Ellipsis, Ix.FromEnd(1)];</code></example>
    public static Ix Ellipsis { get; } = new(IxKind.Ellipsis, null, null, 1);

    /// <summary>
    /// A new axis of length 1 in the result, at its place among the kept axes (numpy's <c>None</c> / <c>np.newaxis</c>):
    /// <c>v[Ix.NewAxis, Ix.All]</c> of a <c>[3]</c> is <c>[1, 3]</c>, <c>v[Ix.All, Ix.NewAxis]</c> is <c>[3, 1]</c>. It reads
    /// no axis of x; in <see cref="Tensor.At"/> the value broadcasts to the part's shape with the new axes (numpy's <c>x[None] = v</c>).
    /// </summary>
    /// <example><code>var column = v[Ix.Ellipsis, Ix.NewAxis];   // [n] becomes [n, 1]</code></example>
    public static Ix NewAxis { get; } = new(IxKind.NewAxis, null, null, 1);

    /// <summary>
    /// The index tensor of an <see cref="IxKind.Tensor"/> index, else null. Integer indices gather along their axis
    /// (<c>x[idx]</c> is <c>Np.Take(x, idx, 0)</c>, <c>x[Ix.All, idx]</c> is <c>Np.Take(x, idx, 1)</c>, and
    /// <c>x[rows, cols]</c> is <c>Lax.GatherAxes</c>); a bool mask selects the positions where it is true, eagerly only.
    /// </summary>
    public Tensor? Indices { get; init; }

    /// <summary>
    /// An index tensor as an index (numpy's integer array and bool mask indexing): <c>x[idx]</c>. Integer index tensors
    /// work eagerly and inside expressions (one tensor with every other index <see cref="All"/>, or tensors for the
    /// leading axes followed by whole axes); a bool mask gives a shape known only from its values, so it works eagerly
    /// and is refused inside a transformed or jitted function (write <c>Np.Where(mask, x, 0)</c> there).
    /// </summary>
    /// <param name="indices">Integer (or, eagerly, bool) indices.</param>
    public static implicit operator Ix(Tensor indices) => FromTensor(indices);

    /// <summary>An index tensor as an <see cref="Ix"/> (what the implicit conversion does).</summary>
    /// <param name="indices">Integer (or, eagerly, bool) indices.</param><returns>A tensor index.</returns>
    public static Ix FromTensor(Tensor indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        return new(IxKind.Tensor, null, null, 1) { Indices = indices };
    }

    /// <summary>The position <paramref name="i"/> from the end: <c>Ix.FromEnd(1)</c> is the last (C#'s <c>^1</c>, numpy's <c>-1</c>).</summary>
    /// <param name="i">The distance from the end, at least 1 for a position inside the axis.</param>
    /// <returns>A point index.</returns>
    /// <example><code>var last = x[Ix.FromEnd(1)];</code></example>
    public static Ix FromEnd(int i) => new(IxKind.Point, new Index(Positive(i, nameof(i)), fromEnd: true), null, 1);

    /// <summary>The positions <paramref name="start"/>, start + step, ... before <paramref name="stop"/> (numpy's
    /// <c>x[start:stop:step]</c>); negative bounds count from the end, and <c>null</c> takes the default (the start, or
    /// the end, of the axis in the step's direction).</summary>
    /// <param name="start">The first position.</param><param name="stop">The position the range stops before.</param>
    /// <param name="step">The step (not 0).</param>
    /// <returns>A range index.</returns>
    /// <example><code>var odd = x[Ix.Range(1, 6, step: 2)];   // positions 1, 3, 5
    /// var reversed = x[Ix.Range(null, null, -1)];</code></example>
    /// <exception cref="ArgumentOutOfRangeException">The step is 0.</exception>
    public static Ix Range(int? start, int? stop, int step = 1) => new(IxKind.Range, start is { } a ? Of(a) : null, stop is { } b ? Of(b) : null, NonZero(step));

    /// <summary>The positions from <paramref name="start"/> to the end (numpy's <c>x[start:]</c>); a negative start counts from the end.</summary>
    /// <param name="start">The first position.</param><returns>A range index.</returns>
    public static Ix From(int start) => new(IxKind.Range, Of(start), null, 1);

    /// <summary>The positions before <paramref name="stop"/> (numpy's <c>x[:stop]</c>); a negative stop counts from the end.</summary>
    /// <param name="stop">The position the range stops before.</param><returns>A range index.</returns>
    public static Ix To(int stop) => new(IxKind.Range, null, Of(stop), 1);

    /// <summary>Every <paramref name="step"/>-th position (numpy's <c>x[::step]</c>); a negative step walks from the end.</summary>
    /// <param name="step">The step (not 0).</param><returns>A range index.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The step is 0.</exception>
    public static Ix Every(int step) => new(IxKind.Range, null, null, NonZero(step));

    /// <summary>A position; a negative one counts from the end (numpy's <c>-1</c> is the last).</summary>
    /// <param name="i">The position.</param>
    public static implicit operator Ix(int i) => new(IxKind.Point, Of(i), null, 1);

    /// <summary>A C# <see cref="System.Index"/> (<c>^1</c> is the last position).</summary>
    /// <param name="i">The index.</param>
    public static implicit operator Ix(Index i) => new(IxKind.Point, i, null, 1);

    /// <summary>A C# <see cref="System.Range"/> (<c>1..^1</c>), step 1.</summary>
    /// <param name="r">The range.</param>
    public static implicit operator Ix(System.Range r) => new(IxKind.Range, r.Start, r.End, 1);

    /// <summary>A position as an <see cref="Ix"/> (what the implicit conversion does).</summary>
    /// <param name="i">The position.</param><returns>A point index.</returns>
    public static Ix FromInt32(int i) => i;

    /// <summary>A C# index as an <see cref="Ix"/>.</summary>
    /// <param name="i">The index.</param><returns>A point index.</returns>
    public static Ix FromIndex(Index i) => i;

    /// <summary>A C# range as an <see cref="Ix"/>.</summary>
    /// <param name="r">The range.</param><returns>A range index.</returns>
    public static Ix FromRange(System.Range r) => r;

    static Index Of(int i) => i < 0 ? new Index(-i, fromEnd: true) : new Index(i);

    static int Positive(int i, string name) => i >= 0 ? i : throw new ArgumentOutOfRangeException(name, i, "a distance from the end is not negative (Ix.FromEnd(1) is the last position)");

    static int NonZero(int step) => step != 0 ? step : throw new ArgumentOutOfRangeException(nameof(step), step, "a range's step is not 0");

    /// <summary>As C# text that an expression may hold: <c>2</c>, <c>Ix.FromEnd(1)</c>, <c>Ix.All</c>, <c>Ix.Range(1, -1, 2)</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        if (Kind == IxKind.Ellipsis) return "Ix.Ellipsis";
        if (Kind == IxKind.NewAxis) return "Ix.NewAxis";
        if (Kind == IxKind.Tensor) return $"Ix.FromTensor({Indices?.Aval})";
        if (Kind == IxKind.Point) return Start!.Value.IsFromEnd ? $"Ix.FromEnd({Start.Value.Value})" : Int(Start.Value.Value);
        if (Start is null && Stop is null && Step == 1) return "Ix.All";
        // a bound of ^0 is the end of the axis: the default stop going forwards, the default start going backwards
        string Bound(Index? b, bool isStart) => b is not { } i ? "null"
            : !i.IsFromEnd ? Int(i.Value)
            : i.Value > 0 ? Int(-i.Value)
            : (isStart ? Step < 0 : Step > 0) ? "null" : "0, 0";
        var s = Bound(Start, true); var e = Bound(Stop, false);
        // ^0 where no int names it: an empty range
        if (s == "0, 0" || e == "0, 0") return Step == 1 ? "Ix.Range(0, 0)" : $"Ix.Range(0, 0, {Int(Step)})";
        return Step == 1 ? $"Ix.Range({s}, {e})" : $"Ix.Range({s}, {e}, {Int(Step)})";
    }

    static string Int(int i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    static string Text(Index i) => i.IsFromEnd ? $"^{i.Value}" : Int(i.Value);

    /// <summary>A list of indices as C# text (<c>[0, Ix.All]</c>).</summary>
    internal static string Text(Ix[] ix) => "[" + string.Join(", ", ix.Select(i => i.ToString())) + "]";

    /// <summary>How a list of indices reads a tensor of shape <paramref name="dims"/>: per axis, the first position, the
    /// count, the step and whether the axis is kept. Positions and bounds outside the axis are an error naming the call.</summary>
    internal static Resolved[] Resolve(Ix[] ix, int[] dims, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        ArgumentNullException.ThrowIfNull(ix);
        ix = Expand(ix, dims.Length, call, shapes, keepNew: false);
        if (ix.Length > dims.Length)
            throw new ShapeException(call(), shapes, $"{ix.Length} indices for a tensor of rank {dims.Length}; at most one index per axis is accepted");
        var r = new Resolved[dims.Length];
        for (int a = 0; a < dims.Length; a++)
        {
            int n = dims[a];
            var i = a < ix.Length ? ix[a] ?? throw new ShapeException(call(), shapes, $"index {a} is null; give an int, an Index, a Range or an Ix") : All;
            if (i.Kind == IxKind.Point)
            {
                int p = At(i.Start!.Value, n);
                if (p < 0 || p >= n)
                    throw new ShapeException(call(), shapes, $"index {Text(i.Start!.Value)} is out of range for axis {a} of length {n}; accepted positions are 0 .. {n - 1} (or ^{n} .. ^1, or {-n} .. -1 counting from the end)");
                r[a] = new Resolved(p, 1, 1, false);
                continue;
            }
            if (i.Step == 0) throw new ShapeException(call(), shapes, $"axis {a}: a range's step is not 0");
            int lo, hi;
            if (i.Step > 0)
            {
                lo = i.Start is { } s ? At(s, n) : 0;
                hi = i.Stop is { } e ? At(e, n) : n;
                Bound(lo, n, a, i, call, shapes);
                Bound(hi, n, a, i, call, shapes);
                int count = hi > lo ? (hi - lo + i.Step - 1) / i.Step : 0;
                r[a] = new Resolved(lo, count, i.Step, true);
            }
            else
            {
                // backwards: from start (default the last position) down to just after stop (default: past position 0)
                lo = i.Start is { } s ? At(s, n) : n - 1;
                hi = i.Stop is { } e ? At(e, n) : -1;
                if (i.Start is not null) Bound(lo, n, a, i, call, shapes);
                if (i.Stop is not null) Bound(hi, n, a, i, call, shapes);
                if (lo >= n) lo = n - 1;
                int count = lo > hi ? (lo - hi - i.Step - 1) / -i.Step : 0;
                r[a] = new Resolved(count > 0 ? lo : 0, count, i.Step, true);
            }
        }
        return r;
    }

    /// <summary>
    /// The list with its <see cref="Ellipsis"/> replaced by the whole axes it stands for in a rank-<paramref name="rank"/>
    /// tensor, and its <see cref="NewAxis"/> entries dropped unless <paramref name="keepNew"/>. A second Ellipsis, or an
    /// index tensor (the indexer reads those itself), is an error naming the call.
    /// </summary>
    internal static Ix[] Expand(Ix[] ix, int rank, Func<string> call, IReadOnlyList<Aval> shapes, bool keepNew)
    {
        int ellipses = 0, news = 0, consumed = 0;
        foreach (var i in ix)
            switch (i?.Kind)
            {
                case IxKind.Ellipsis: ellipses++; break;
                case IxKind.NewAxis: news++; break;
                case IxKind.Tensor:
                    throw new ShapeException(call(), shapes, "an index tensor is accepted by the indexer x[...] alone (x[idx], x[Ix.All, idx], x[rows, cols]), not in x.At(...) or a static index list; "
                        + "update at index tensors with Lax.ScatterAdd, gather with Np.Take or Lax.GatherAxes");
                default: consumed++; break;
            }
        if (ellipses == 0 && (news == 0 || keepNew)) return ix;
        if (ellipses > 1) throw new ShapeException(call(), shapes, $"{ellipses} Ix.Ellipsis in one index list; numpy's ... may appear once");
        if (consumed > rank)
            throw new ShapeException(call(), shapes, $"{consumed} indices for a tensor of rank {rank}; at most one index per axis is accepted (Ix.Ellipsis and Ix.NewAxis take none)");
        var r = new List<Ix>(rank + news);
        foreach (var i in ix)
        {
            if (i?.Kind == IxKind.Ellipsis) r.AddRange(Enumerable.Repeat(All, rank - consumed));
            else if (i?.Kind != IxKind.NewAxis || keepNew) r.Add(i!);
        }
        return r.ToArray();
    }

    /// <summary>The shape x[ix] has: the kept axes' lengths, with a 1 where each <see cref="NewAxis"/> stands among them.</summary>
    internal static int[] OutDims(Ix[] ix, Resolved[] r, int rank, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        var kept = r.Where(a => a.Keep).Select(a => a.Count).ToArray();
        if (!ix.Any(i => i?.Kind == IxKind.NewAxis)) return kept;
        var od = new List<int>(kept.Length + ix.Length);
        int k = 0;
        foreach (var i in Expand(ix, rank, call, shapes, keepNew: true))
        {
            if (i.Kind == IxKind.NewAxis) od.Add(1);
            else if (i.Kind == IxKind.Range) od.Add(kept[k++]);
        }
        while (k < kept.Length) od.Add(kept[k++]);
        return od.ToArray();
    }

    static int At(Index i, int n) => i.IsFromEnd ? n - i.Value : i.Value;

    static void Bound(int p, int n, int axis, Ix i, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        if (p < 0 || p > n)
            throw new ShapeException(call(), shapes, $"the range {i} is out of range for axis {axis} of length {n}; accepted bounds are 0 .. {n} (or ^{n} .. ^0 counting from the end)");
    }

    /// <summary>One axis of a resolved index: the first position, the count, the step, and whether the axis is kept.</summary>
    internal readonly record struct Resolved(int Start, int Count, int Step, bool Keep);
}
