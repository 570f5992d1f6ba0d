namespace Functional.AD;

/// <summary>What an <see cref="AxisMap"/> does along its axis.</summary>
/// <example><code>var flip = new AxisMap(AxisMapKind.Flip, 0);   // Lax.AxisGather(x, new[] { flip }) is Np.Flip(x, 0)</code></example>
public enum AxisMapKind
{
    /// <summary>Reverses the axis (<c>Np.Flip</c>).</summary>
    Flip,
    /// <summary>Shifts the axis cyclically by <see cref="AxisMap.Before"/> (<c>Np.Roll</c>).</summary>
    Roll,
    /// <summary>Repeats the whole axis <see cref="AxisMap.Before"/> times (<c>Np.Tile</c>).</summary>
    Tile,
    /// <summary>Repeats each element <see cref="AxisMap.Before"/> times (<c>Np.Repeat</c>).</summary>
    Repeat,
    /// <summary>Pads with the fill value (<c>Np.Pad</c>, <see cref="PadMode.Constant"/>).</summary>
    PadConstant,
    /// <summary>Pads with the edge element (<see cref="PadMode.Edge"/>).</summary>
    PadEdge,
    /// <summary>Pads with the reflection that leaves the edge out (<see cref="PadMode.Reflect"/>).</summary>
    PadReflect,
    /// <summary>Piece <see cref="AxisMap.After"/> of <see cref="AxisMap.Before"/> equal pieces (<c>Np.Split(x, sections, axis)</c>).</summary>
    Section,
    /// <summary>Positions <see cref="AxisMap.Before"/> up to, not including, <see cref="AxisMap.After"/>, both clamped to the axis (<c>Np.Split(x, indices, axis)</c>).</summary>
    Slice,
    /// <summary>Piece <see cref="AxisMap.After"/> of <see cref="AxisMap.Before"/> nearly equal pieces, the first <c>n % Before</c> one longer (<c>Np.ArraySplit(x, sections, axis)</c>).</summary>
    UnevenSection,
}

/// <summary>How <see cref="Np.Pad(Tensor, int[], PadMode)"/> fills the new elements (numpy's <c>mode</c>).</summary>
/// <example><code>var y = Np.Pad(x, new[] { 2, 1 }, PadMode.Reflect);   // [1, 2, 3] becomes [3, 2, 1, 2, 3, 2]</code></example>
public enum PadMode
{
    /// <summary>A constant (0 unless given).</summary>
    Constant,
    /// <summary>The edge element repeated.</summary>
    Edge,
    /// <summary>The mirror image without the edge: <c>[1, 2, 3]</c> padded by 2 before is <c>[3, 2, 1, 2, 3]</c>.</summary>
    Reflect,
}

/// <summary>
/// A static index map along one axis, the parameter of <see cref="Lax.AxisGather"/>: output position i along
/// <see cref="Axis"/> reads input position <c>Indices(n)[i]</c>, or <see cref="Fill"/> where that is -1.
/// Example: <c>new AxisMap(AxisMapKind.Roll, 0, 1)</c> over a length-3 axis reads <c>[2, 0, 1]</c>.
/// </summary>
/// <example><code>var rolled = Lax.AxisGather(x, new[] { new AxisMap(AxisMapKind.Roll, 0, 1) });   // Np.Roll(x, 1, 0)</code></example>
/// <param name="Kind">What the map does.</param>
/// <param name="Axis">The axis (negative counts from the end).</param>
/// <param name="Before">The shift (Roll), the count (Tile, Repeat) or the padding before (Pad).</param>
/// <param name="After">The padding after (Pad).</param>
/// <param name="Fill">The constant of a constant pad.</param>
public sealed record AxisMap(AxisMapKind Kind, int Axis, int Before = 0, int After = 0, double Fill = 0)
{
    /// <summary>The input position each output position reads (-1: the fill value), for an axis of length <paramref name="n"/>.</summary>
    /// <param name="n">The input length.</param>
    /// <param name="call">The call, for the error.</param>
    /// <param name="shapes">The operands, for the error.</param>
    /// <returns>The indices.</returns>
    /// <exception cref="ShapeException">The map does not apply to a length-n axis (a reflection wider than the axis, an empty axis padded by its edge).</exception>
    public int[] Indices(int n, string call, IReadOnlyList<Aval> shapes)
    {
        int[] r;
        switch (Kind)
        {
            case AxisMapKind.Flip:
                r = new int[n];
                for (int i = 0; i < n; i++) r[i] = n - 1 - i;
                return r;
            case AxisMapKind.Roll:
                r = new int[n];
                for (int i = 0; i < n; i++) r[i] = (int)((((long)i - Before) % n + n) % n);
                return r;
            case AxisMapKind.Tile:
                r = new int[n * Before];
                for (int i = 0; i < r.Length; i++) r[i] = i % n;
                return r;
            case AxisMapKind.Repeat:
                r = new int[n * Before];
                for (int i = 0; i < r.Length; i++) r[i] = i / Before;
                return r;
            case AxisMapKind.Section:
                if (Before <= 0 || n % Before != 0)
                    throw new ShapeException(call, shapes, $"axis {Axis} of length {n} does not split into {Before} equal sections; give split indices instead");
                return Enumerable.Range(After * (n / Before), n / Before).ToArray();
            case AxisMapKind.UnevenSection:
            {
                if (Before <= 0) throw new ShapeException(call, shapes, $"sections must be 1 or more, not {Before}");
                int q = n / Before, rem = n % Before;
                return Enumerable.Range(After * q + Math.Min(After, rem), q + (After < rem ? 1 : 0)).ToArray();
            }
            case AxisMapKind.Slice:
            {
                int start = Math.Clamp(Before, 0, n), stop = Math.Clamp(After, start, n);
                return Enumerable.Range(start, stop - start).ToArray();
            }
            default:
                if (Kind == AxisMapKind.PadEdge && n == 0 && Before + After > 0)
                    throw new ShapeException(call, shapes, $"axis {Axis} is empty, so it has no edge to pad with; pad it with a constant");
                if (Kind == AxisMapKind.PadReflect && (Before >= n || After >= n) && Before + After > 0)
                    throw new ShapeException(call, shapes, $"reflect padding ({Before}, {After}) along axis {Axis} of length {n} must be below the length (at most {Math.Max(0, n - 1)})");
                r = new int[Before + n + After];
                for (int i = 0; i < r.Length; i++)
                {
                    int j = i - Before;
                    r[i] = j >= 0 && j < n ? j
                        : Kind == AxisMapKind.PadConstant ? -1
                        : Kind == AxisMapKind.PadEdge ? Math.Clamp(j, 0, n - 1)
                        : j < 0 ? -j : 2 * (n - 1) - j;
                }
                return r;
        }
    }

    /// <summary>The public call this map stands for, with x's aval (what an error names).</summary>
    internal string Spelling(Aval x) => Kind switch
    {
        AxisMapKind.Flip => $"Np.Flip(x: {x}, axis: {Axis})",
        AxisMapKind.Roll => $"Np.Roll(x: {x}, shift: {Before}, axis: {Axis})",
        AxisMapKind.Tile => $"Np.Tile(x: {x}, reps: {Before} along axis {Axis})",
        AxisMapKind.Repeat => $"Np.Repeat(x: {x}, repeats: {Before}, axis: {Axis})",
        AxisMapKind.Section => $"Np.Split(x: {x}, sections: {Before}, axis: {Axis})[{After}]",
        AxisMapKind.UnevenSection => $"Np.ArraySplit(x: {x}, sections: {Before}, axis: {Axis})[{After}]",
        AxisMapKind.Slice => $"Np.Split(x: {x}, axis: {Axis}): the piece from {Before} to {(After == int.MaxValue ? "the end" : After)}",
        _ => $"Np.Pad(x: {x}, widths: ({Before}, {After}) along axis {Axis}, mode: {(Kind == AxisMapKind.PadEdge ? "Edge" : Kind == AxisMapKind.PadReflect ? "Reflect" : "Constant")})",
    };

    /// <summary>The maps as a C# array expression (how the printer writes them).</summary>
    internal static string Text(AxisMap[] maps) =>
        "new AxisMap[] { " + string.Join(", ", maps.Select(m =>
            $"new AxisMap(AxisMapKind.{m.Kind}, {m.Axis}, {m.Before}, {m.After}, {Printer.Literal(m.Fill)})")) + " }";
}

public static partial class Lax
{
    /// <summary>
    /// Along each map's axis in turn, output position i reads input position <c>map.Indices(n)[i]</c> (the map's fill
    /// where that is -1): what <c>Np.Flip</c>, <c>Roll</c>, <c>Repeat</c>, <c>Tile</c> and <c>Pad</c> are read as. Linear in x
    /// when every fill is 0; its transpose is <see cref="AxisScatterAdd"/>.
    /// Example: <c>AxisGather([1, 2, 3], new[] { new AxisMap(AxisMapKind.Flip, 0) })</c> is <c>[3., 2., 1.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="maps">The maps, applied in order.</param><returns>The gathered tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">An axis is out of range, or a map does not apply to its axis.</exception>
    public static Tensor AxisGather(Tensor x, AxisMap[] maps)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(maps);
        foreach (var m in maps) x = GatherOne(x, m);
        return x;
    }

    static Tensor GatherOne(Tensor x, AxisMap m)
    {
        string Call() => m.Spelling(x.Aval);
        int ax = Eager.Axis(m.Axis, x.Rank, Call, [x.Aval]);
        int n = x.Dims[ax];
        var idx = m.Indices(n, Call(), [x.Aval]);
        var src = x;
        if (idx.Contains(-1))
        {
            var fillDims = (int[])x.Dims.Clone();
            fillDims[ax] = 1;
            src = Np.Concatenate([x, Eager.Fill(fillDims, m.Fill, x.DType, x.IsWeak)], ax);
            for (int i = 0; i < idx.Length; i++) if (idx[i] < 0) idx[i] = n;
        }
        int outer = Kernels.Product(x.Dims, 0, ax), inner = Kernels.Product(x.Dims, ax + 1);
        var od = (int[])x.Dims.Clone();
        od[ax] = idx.Length;
        return Tensor.Adopt(Moves.Take(src, outer, src.Dims[ax], inner, idx), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>
    /// A constant pad whose fill is an operand: <c>AxisGather(x, maps) + value * (1 at the padded positions)</c>, with the
    /// maps' own fills ignored; what <c>Np.Pad(x, widths, value)</c> is read as. Linear in x and value together, so the
    /// derivative flows to both. <paramref name="value"/> broadcasts against the output (a scalar, or per-example under Vmap).
    /// Example: <c>PadFill([1, 2], 9, new[] { new AxisMap(AxisMapKind.PadConstant, 0, 1, 0) })</c> is <c>[9., 1., 2.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="value">The fill.</param><param name="maps">Constant-pad maps.</param>
    /// <returns>The padded tensor, in x's dtype (the value is converted to it).</returns>
    public static Tensor PadFill(Tensor x, Tensor value, AxisMap[] maps)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(maps);
        // the fill takes x's dtype, as numpy's and JAX's constant_values do (a fill of -2.5 pads an int32 with -2)
        if (value.DType != x.DType) value = Lax.Cast(value, x.DType);
        var zeroFill = maps.Select(m => m with { Fill = 0 }).ToArray();
        var padded = AxisGather(x, zeroFill);
        var mask = Np.Sub(Eager.Fill([], 1, x.DType, true), AxisGather(Eager.Fill(x.Dims, 1, x.DType, x.IsWeak), zeroFill));
        var r = Np.Add(padded, Np.Mul(value, mask));
        return r.DType == x.DType ? r : Lax.Cast(r, x.DType);
    }

    /// <summary>
    /// The transpose of <see cref="AxisGather"/> (fills taken as 0): zeros of x's shape with each element of
    /// <paramref name="g"/> added at the position it was read from. Example: the scatter of <c>[1, 2, 3, 4]</c> by
    /// <c>new AxisMap(AxisMapKind.Tile, 0, 2)</c> onto <c>float32[2]</c> is <c>[4., 6.]</c>.
    /// </summary>
    /// <param name="g">The cotangent of the gather's output.</param><param name="x">The aval of the gather's input.</param>
    /// <param name="maps">The gather's maps.</param><returns>A tensor of x's shape.</returns>
    /// <exception cref="ShapeException">g is not shaped as the gather's output.</exception>
    public static Tensor AxisScatterAdd(Tensor g, Aval x, AxisMap[] maps)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(maps);
        string Call() => $"Lax.AxisScatterAdd(g: {g.Aval}, x: {x}, {AxisMap.Text(maps)})";
        // the input shape before each map, from x forwards
        var shapes = new List<int[]> { x.Dims };
        foreach (var m in maps)
        {
            var d = shapes[^1];
            int ax = Eager.Axis(m.Axis, d.Length, Call, [g.Aval, x]);
            var next = (int[])d.Clone();
            next[ax] = m.Indices(d[ax], Call(), [g.Aval, x]).Length;
            shapes.Add(next);
        }
        if (!SmallArrays.Same(g.Dims, shapes[^1]))
            throw new ShapeException(Call(), [g.Aval, x], $"g must have the gather's output shape {Eager.Dims(shapes[^1])}");
        for (int k = maps.Length - 1; k >= 0; k--)
        {
            var d = shapes[k];
            int ax = Eager.Axis(maps[k].Axis, d.Length, Call, [g.Aval, x]);
            int n = d[ax];
            var idx = maps[k].Indices(n, Call(), [g.Aval, x]);
            bool fills = idx.Contains(-1);
            for (int i = 0; i < idx.Length; i++) if (idx[i] < 0) idx[i] = n;
            var target = (int[])d.Clone();
            if (fills) target[ax] = n + 1;
            g = ScatterAdd(g, Eager.Make(idx, [idx.Length]), ax, Aval.Intern(target, g.DType, g.IsWeak));
            if (fills) g = Np.Take(g, Eager.Make(Enumerable.Range(0, n).ToArray(), [n]), ax);
        }
        return g;
    }

    /// <summary>
    /// The upper (<paramref name="upper"/>) or lower triangle of the last two axes: elements with <c>j - i &gt;= k</c>
    /// (upper) or <c>j - i &lt;= k</c> (lower) kept, the rest 0; what <c>Np.Triu</c> and <c>Np.Tril</c> are read as.
    /// Linear and its own transpose. Example: <c>Triangle([[1, 2], [3, 4]], 0, true)</c> is <c>[[1., 2.], [0., 4.]]</c>.
    /// </summary>
    /// <param name="x">A tensor of rank 2 or more.</param><param name="k">The diagonal (0 the main one, positive above).</param>
    /// <param name="upper">Keep the upper triangle (else the lower).</param><returns>The masked tensor.</returns>
    /// <exception cref="ShapeException">x has rank below 2.</exception>
    public static Tensor Triangle(Tensor x, int k, bool upper)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 2)
            throw new ShapeException($"Np.{(upper ? "Triu" : "Tril")}(x: {x.Aval}, k: {k})", [x.Aval], "x must have rank 2 or more (the triangle is of its last two axes)");
        int rows = x.Dims[^2], cols = x.Dims[^1];
        var keep = new bool[rows * cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                keep[i * cols + j] = upper ? j - i >= k : j - i <= k;
        var mask = Eager.Make(keep, [rows, cols]);
        return Np.Where(mask, x, Eager.Fill([], 0, x.DType, x.IsWeak));
    }
}

// The shape vocabulary of jax.numpy (primitives in Primitives/Prims.Shapes.cs).
public static partial class Np
{
    /// <summary>
    /// Inserts a size-1 axis at <paramref name="axis"/> of the result (negative counts from the result's end).
    /// Example: <c>ExpandDims(x, 0)</c> of a <c>[3]</c> is <c>[1, 3]</c>; <c>ExpandDims(x, -1)</c> is <c>[3, 1]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The new axis, in -(rank+1) .. rank.</param><returns>The reshaped tensor.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor ExpandDims(Tensor x, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        int a = Eager.Axis(axis, x.Rank + 1, () => $"Np.ExpandDims(x: {x.Aval}, axis: {axis})", [x.Aval]);
        return Reshape(x, Eager.Insert(x.Dims, a, 1));
    }

    /// <summary>Removes every size-1 axis. Example: <c>Squeeze(x)</c> of a <c>[1, 3, 1]</c> is <c>[3]</c>.</summary>
    /// <param name="x">The tensor.</param><returns>The reshaped tensor.</returns>
    public static Tensor Squeeze(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Reshape(x, x.Dims.Where(d => d != 1).ToArray());
    }

    /// <summary>Removes the named size-1 axes. Example: <c>Squeeze(x, new[] { 0 })</c> of a <c>[1, 3, 1]</c> is <c>[3, 1]</c>.</summary>
    /// <param name="x">The tensor.</param><param name="axes">The axes (null: every size-1 axis), each of size 1.</param><returns>The reshaped tensor.</returns>
    /// <exception cref="ShapeException">An axis is out of range or not of size 1.</exception>
    public static Tensor Squeeze(Tensor x, int[]? axes)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (axes is null) return Squeeze(x);
        string Call() => $"Np.Squeeze(x: {x.Aval}, axes: {Eager.Dims(axes)})";
        var drop = new HashSet<int>();
        foreach (var axis in axes)
        {
            int a = Eager.Axis(axis, x.Rank, Call, [x.Aval]);
            if (x.Dims[a] != 1) throw new ShapeException(Call(), [x.Aval], $"axis {axis} has size {x.Dims[a]}; only size-1 axes can be squeezed");
            drop.Add(a);
        }
        return Reshape(x, x.Dims.Where((_, i) => !drop.Contains(i)).ToArray());
    }

    /// <summary>
    /// Moves axis <paramref name="source"/> to position <paramref name="destination"/>, the others keeping their order.
    /// Example: <c>MoveAxis(x, 0, -1)</c> of a <c>[2, 3, 4]</c> is <c>[3, 4, 2]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="source">The axis moved.</param><param name="destination">Its position in the result.</param>
    /// <returns>The permuted tensor.</returns><exception cref="ShapeException">An axis is out of range.</exception>
    public static Tensor MoveAxis(Tensor x, int source, int destination)
    {
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Np.MoveAxis(x: {x.Aval}, source: {source}, destination: {destination})";
        int s = Eager.Axis(source, x.Rank, Call, [x.Aval]), d = Eager.Axis(destination, x.Rank, Call, [x.Aval]);
        var rest = Enumerable.Range(0, x.Rank).Where(i => i != s).ToList();
        rest.Insert(d, s);
        return Transpose(x, rest.ToArray());
    }

    /// <summary>Exchanges two axes. Example: <c>SwapAxes(x, 0, 2)</c> of a <c>[2, 3, 4]</c> is <c>[4, 3, 2]</c>.</summary>
    /// <param name="x">The tensor.</param><param name="axis1">One axis.</param><param name="axis2">The other.</param>
    /// <returns>The permuted tensor.</returns><exception cref="ShapeException">An axis is out of range.</exception>
    public static Tensor SwapAxes(Tensor x, int axis1, int axis2)
    {
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Np.SwapAxes(x: {x.Aval}, axis1: {axis1}, axis2: {axis2})";
        int a = Eager.Axis(axis1, x.Rank, Call, [x.Aval]), b = Eager.Axis(axis2, x.Rank, Call, [x.Aval]);
        var perm = Enumerable.Range(0, x.Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Transpose(x, perm);
    }

    /// <summary>Reverses the order of elements along an axis. Example: <c>Flip([[1, 2], [3, 4]], 1)</c> is <c>[[2., 1.], [4., 3.]]</c>.</summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis (negative counts from the end).</param><returns>The flipped tensor.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Flip(Tensor x, int axis) => Lax.AxisGather(x, [new AxisMap(AxisMapKind.Flip, axis)]);

    /// <summary>Reverses the order of elements along each of <paramref name="axes"/>. Example: <c>Flip([[1, 2], [3, 4]], new[] { 0, 1 })</c> is <c>[[4., 3.], [2., 1.]]</c>.</summary>
    /// <param name="x">The tensor.</param><param name="axes">The axes.</param><returns>The flipped tensor.</returns>
    /// <exception cref="ShapeException">An axis is out of range.</exception>
    public static Tensor Flip(Tensor x, int[] axes) => Lax.AxisGather(x, (axes ?? throw new ArgumentNullException(nameof(axes))).Select(a => new AxisMap(AxisMapKind.Flip, a)).ToArray());

    /// <summary>
    /// Shifts elements cyclically along an axis: <c>out[i] = x[(i - shift) mod n]</c>. Example: <c>Roll([1, 2, 3], 1, 0)</c> is <c>[3., 1., 2.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="shift">The shift (negative shifts the other way).</param><param name="axis">The axis.</param>
    /// <returns>The rolled tensor.</returns><exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Roll(Tensor x, int shift, int axis) => Lax.AxisGather(x, [new AxisMap(AxisMapKind.Roll, axis, shift)]);

    /// <summary>Shifts cyclically along several axes, <c>shifts[i]</c> along <c>axes[i]</c>. Example: <c>Roll(x, new[] { 1, -1 }, new[] { 0, 1 })</c>.</summary>
    /// <param name="x">The tensor.</param><param name="shifts">The shifts.</param><param name="axes">The axes, as many as shifts.</param>
    /// <returns>The rolled tensor.</returns><exception cref="ArgumentException">shifts and axes differ in length.</exception>
    public static Tensor Roll(Tensor x, int[] shifts, int[] axes) => Lax.AxisGather(x, RollMaps(shifts, axes));

    internal static AxisMap[] RollMaps(int[] shifts, int[] axes)
    {
        ArgumentNullException.ThrowIfNull(shifts);
        ArgumentNullException.ThrowIfNull(axes);
        if (shifts.Length != axes.Length)
            throw new ArgumentException($"Np.Roll(shifts: [{string.Join(", ", shifts)}], axes: [{string.Join(", ", axes)}]): one shift per axis is needed", nameof(axes));
        return shifts.Zip(axes, (s, a) => new AxisMap(AxisMapKind.Roll, a, s)).ToArray();
    }

    /// <summary>Repeats each element <paramref name="repeats"/> times along an axis. Example: <c>Repeat([1, 2], 2, 0)</c> is <c>[1., 1., 2., 2.]</c>.</summary>
    /// <param name="x">The tensor.</param><param name="repeats">The count (non-negative).</param><param name="axis">The axis.</param>
    /// <returns>The tensor with that axis <paramref name="repeats"/> times longer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">repeats is negative.</exception>
    public static Tensor Repeat(Tensor x, int repeats, int axis) => Lax.AxisGather(x, [RepeatMap(repeats, axis)]);

    internal static AxisMap RepeatMap(int repeats, int axis) =>
        repeats < 0 ? throw new ArgumentOutOfRangeException(nameof(repeats), repeats, $"Np.Repeat(repeats: {repeats}, axis: {axis}): repeats must be non-negative") : new(AxisMapKind.Repeat, axis, repeats);

    /// <summary>
    /// Repeats the whole tensor: <c>reps[i]</c> copies along axis <c>i - reps.Length</c> (reps aligned with the trailing
    /// axes, as numpy does when it has fewer entries than the rank). Example: <c>Tile([1, 2], new[] { 2 })</c> is <c>[1., 2., 1., 2.]</c>.
    /// Unlike numpy, reps may not be longer than the rank (add axes with <see cref="Reshape"/> first).
    /// </summary>
    /// <param name="x">The tensor.</param><param name="reps">The copies per trailing axis (non-negative).</param><returns>The tiled tensor.</returns>
    /// <exception cref="ShapeException">reps is longer than the rank.</exception>
    public static Tensor Tile(Tensor x, int[] reps)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(reps);
        if (reps.Length > x.Rank)
            throw new ShapeException($"Np.Tile(x: {x.Aval}, reps: [{string.Join(", ", reps)}])", [x.Aval], $"reps has {reps.Length} entries for rank {x.Rank}; give at most one per axis (reshape x to add leading axes)");
        return Lax.AxisGather(x, TileMaps(reps));
    }

    internal static AxisMap[] TileMaps(int[] reps)
    {
        ArgumentNullException.ThrowIfNull(reps);
        if (reps.Any(r => r < 0)) throw new ArgumentOutOfRangeException(nameof(reps), $"Np.Tile(reps: [{string.Join(", ", reps)}]): reps must be non-negative");
        return reps.Select((r, i) => new AxisMap(AxisMapKind.Tile, i - reps.Length, r)).ToArray();
    }

    /// <summary>
    /// Pads with zeros: <paramref name="widths"/> holds (before, after) for each axis in turn, <c>[b0, a0, b1, a1, ...]</c>
    /// (numpy's <c>pad_width</c> flattened). Example: <c>Pad([1, 2], new[] { 1, 2 })</c> is <c>[0., 1., 2., 0., 0.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="widths">Two non-negative widths per axis.</param><returns>The padded tensor.</returns>
    /// <exception cref="ShapeException">widths does not hold two entries per axis.</exception>
    public static Tensor Pad(Tensor x, int[] widths) => Pad(x, widths, PadMode.Constant);

    /// <summary>
    /// Pads with a constant value. Example: <c>Pad([1, 2], new[] { 1, 0 }, 9.0)</c> is <c>[9., 1., 2.]</c>. The value may be
    /// computed from the function's arguments: the derivative flows to it too (the sum of the cotangent at the padded positions).
    /// </summary>
    /// <param name="x">The tensor.</param><param name="widths">Two non-negative widths per axis.</param><param name="value">The fill.</param>
    /// <returns>The padded tensor.</returns><exception cref="ShapeException">widths does not hold two entries per axis.</exception>
    public static Tensor Pad(Tensor x, int[] widths, double value)
    {
        ArgumentNullException.ThrowIfNull(x);
        PadOf(Eager.Fill(x.Dims, 0, x.DType), widths, PadMode.Constant, 0);   // the shape checks
        return Lax.PadFill(x, value, PadMaps(widths, PadMode.Constant, 0));
    }

    /// <summary>
    /// Pads by a mode: <see cref="PadMode.Constant"/> (zeros), <see cref="PadMode.Edge"/> or <see cref="PadMode.Reflect"/>.
    /// Example: <c>Pad([1, 2, 3], new[] { 2, 1 }, PadMode.Reflect)</c> is <c>[3., 2., 1., 2., 3., 2.]</c>;
    /// with <see cref="PadMode.Edge"/> it is <c>[1., 1., 1., 2., 3., 3.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="widths">Two non-negative widths per axis.</param><param name="mode">The mode.</param>
    /// <returns>The padded tensor.</returns>
    /// <exception cref="ShapeException">widths does not hold two entries per axis, or a reflection is as wide as its axis.</exception>
    public static Tensor Pad(Tensor x, int[] widths, PadMode mode) => PadOf(x, widths, mode, 0);

    static Tensor PadOf(Tensor x, int[] widths, PadMode mode, double value)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(widths);
        if (widths.Length != 2 * x.Rank)
            throw new ShapeException($"Np.Pad(x: {x.Aval}, widths: [{string.Join(", ", widths)}], mode: {mode})", [x.Aval],
                $"widths must hold (before, after) for each of the {x.Rank} axes: {2 * x.Rank} entries, not {widths.Length}");
        return Lax.AxisGather(x, PadMaps(widths, mode, value));
    }

    internal static AxisMap[] PadMaps(int[] widths, PadMode mode, double value)
    {
        ArgumentNullException.ThrowIfNull(widths);
        if (widths.Length % 2 != 0 || widths.Any(w => w < 0))
            throw new ArgumentException($"Np.Pad(widths: [{string.Join(", ", widths)}]): widths must be non-negative (before, after) pairs, one per axis", nameof(widths));
        var kind = mode switch { PadMode.Edge => AxisMapKind.PadEdge, PadMode.Reflect => AxisMapKind.PadReflect, _ => AxisMapKind.PadConstant };
        return Enumerable.Range(0, widths.Length / 2).Select(a => new AxisMap(kind, a, widths[2 * a], widths[2 * a + 1], kind == AxisMapKind.PadConstant ? value : 0)).ToArray();
    }

    /// <summary>The upper triangle of the last two axes (elements on and above the main diagonal kept). Example: <c>Triu([[1, 2], [3, 4]])</c> is <c>[[1., 2.], [0., 4.]]</c>.</summary>
    /// <param name="x">A tensor of rank 2 or more.</param><returns>The masked tensor.</returns>
    /// <exception cref="ShapeException">x has rank below 2.</exception>
    public static Tensor Triu(Tensor x) => Lax.Triangle(x, 0, true);

    /// <summary>The elements on and above diagonal k of the last two axes. Example: <c>Triu([[1, 2], [3, 4]], 1)</c> is <c>[[0., 2.], [0., 0.]]</c>.</summary>
    /// <param name="x">A tensor of rank 2 or more.</param><param name="k">The diagonal (positive above the main one).</param><returns>The masked tensor.</returns>
    /// <exception cref="ShapeException">x has rank below 2.</exception>
    public static Tensor Triu(Tensor x, int k) => Lax.Triangle(x, k, true);

    /// <summary>The lower triangle of the last two axes. Example: <c>Tril([[1, 2], [3, 4]])</c> is <c>[[1., 0.], [3., 4.]]</c>.</summary>
    /// <param name="x">A tensor of rank 2 or more.</param><returns>The masked tensor.</returns>
    /// <exception cref="ShapeException">x has rank below 2.</exception>
    public static Tensor Tril(Tensor x) => Lax.Triangle(x, 0, false);

    /// <summary>The elements on and below diagonal k of the last two axes. Example: <c>Tril([[1, 2], [3, 4]], -1)</c> is <c>[[0., 0.], [3., 0.]]</c>.</summary>
    /// <param name="x">A tensor of rank 2 or more.</param><param name="k">The diagonal (negative below the main one).</param><returns>The masked tensor.</returns>
    /// <exception cref="ShapeException">x has rank below 2.</exception>
    public static Tensor Tril(Tensor x, int k) => Lax.Triangle(x, k, false);

    /// <summary>
    /// The n×m identity-like matrix with ones on diagonal k (numpy's <c>eye</c>). A constant: inside an expression it is read
    /// as its value. Example: <c>Eye(2)</c> is <c>[[1., 0.], [0., 1.]]</c>; <c>Eye(2, 3, 1)</c> is <c>[[0., 1., 0.], [0., 0., 1.]]</c>.
    /// </summary>
    /// <param name="n">Rows.</param><param name="m">Columns.</param><param name="k">The diagonal (positive above the main one).</param><param name="dtype">The dtype.</param>
    /// <returns>The matrix.</returns>
    public static Tensor Eye(int n, int m, int k, DType dtype)
    {
        CheckShape([n, m], "Np.Eye");
        var d = new double[n * m];
        for (int i = 0; i < n; i++) if (i + k >= 0 && i + k < m) d[i * m + i + k] = 1;
        var t = Eager.Make(d, [n, m]);
        return dtype == DType.Float64 ? t : Eager.To(t, dtype);
    }

    /// <summary>The n×n identity, float32. Example: <c>Eye(2)</c> is <c>[[1., 0.], [0., 1.]]</c>.</summary>
    /// <param name="n">The size.</param><returns>The identity.</returns>
    public static Tensor Eye(int n) => Eye(n, n, 0, DType.Float32);

    /// <summary>The n×m matrix with ones on diagonal k, float32. Example: <c>Eye(2, 3, 1)</c> is <c>[[0., 1., 0.], [0., 0., 1.]]</c>.</summary>
    /// <param name="n">Rows.</param><param name="m">Columns.</param><param name="k">The diagonal.</param><returns>The matrix.</returns>
    public static Tensor Eye(int n, int m, int k) => Eye(n, m, k, DType.Float32);

    /// <summary>
    /// <paramref name="num"/> evenly spaced values from <paramref name="start"/> to <paramref name="stop"/> inclusive
    /// (numpy's <c>linspace</c>, endpoint included), float32; the last value is exactly stop. A constant inside an expression.
    /// Example: <c>Linspace(0, 1, 5)</c> is <c>[0., 0.25, 0.5, 0.75, 1.]</c>.
    /// </summary>
    /// <param name="start">The first value.</param><param name="stop">The last value.</param><param name="num">How many (non-negative).</param>
    /// <returns>The vector.</returns>
    public static Tensor Linspace(double start, double stop, int num) => Linspace(start, stop, num, DType.Float32);

    /// <summary>Evenly spaced values, stop included, in a dtype. Example: <c>Linspace(1, 2, 3, DType.Float64)</c> is <c>[1., 1.5, 2.]</c>.</summary>
    /// <param name="start">The first value.</param><param name="stop">The last value.</param><param name="num">How many (non-negative).</param><param name="dtype">The dtype.</param>
    /// <returns>The vector.</returns>
    public static Tensor Linspace(double start, double stop, int num, DType dtype)
    {
        if (num < 0) throw new ArgumentOutOfRangeException(nameof(num), num, $"Np.Linspace(start: {start}, stop: {stop}, num: {num}): num must be non-negative");
        var d = new double[num];
        double step = num > 1 ? (stop - start) / (num - 1) : 0;
        for (int i = 0; i < num; i++) d[i] = i == num - 1 && num > 1 ? stop : start + i * step;
        var t = Eager.Make(d, [num]);
        return dtype == DType.Float64 ? t : Eager.To(t, dtype);
    }
}
