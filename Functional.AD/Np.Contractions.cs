namespace Functional.AD;

// Contractions (declared in Primitives/Prims.Contractions.cs): Einsum, TensorDot, Outer and Kron. They are computed with
// transposes, reshapes and one batched matrix product per pair of operands (Tensors/EinsumEngine.cs).
public static partial class Np
{
    /// <summary>
    /// Einstein summation, as numpy's <c>einsum</c>: each operand's axes are named by letters, letters shared between
    /// operands are multiplied along, letters missing from the output are summed. <c>"bij,bjk-&gt;bik"</c> is a batched
    /// matrix product, <c>"ij-&gt;ji"</c> a transpose, <c>"ii-&gt;"</c> a trace, <c>"ij-&gt;i"</c> a row sum, <c>"i,j-&gt;ij"</c>
    /// an outer product. Without <c>-&gt;</c> the output is the letters that appear once, in alphabetical order; <c>...</c>
    /// stands for the axes not named (broadcast between operands, as numpy). Several operands are contracted one pair
    /// at a time, the pair with the smallest result first, each pair by one batched matrix product. A letter repeated
    /// within one operand takes its diagonal. Example: <c>Einsum("ij,jk-&gt;ik", a, b)</c> is <c>MatMul(a, b)</c>.
    /// </summary>
    /// <param name="subscripts">The subscripts: terms of letters (a-z, A-Z) and at most one <c>...</c> each, separated by commas, then <c>-&gt;</c> and the output term.</param>
    /// <param name="operands">One tensor per term.</param>
    /// <returns>The contraction, in the operands' promoted dtype.</returns>
    /// <exception cref="ShapeException">The subscripts do not parse, or the operands do not fit them (a rank, or one letter
    /// with two sizes); the message names the subscripts and the shapes. Inside an expression a spec that does not parse
    /// is an <see cref="UnsupportedExpressionException"/> when the expression is read.</exception>
    public static Tensor Einsum(string subscripts, params Tensor[] operands)
    {
        ArgumentNullException.ThrowIfNull(subscripts);
        ArgumentNullException.ThrowIfNull(operands);
        string canonical;
        try { canonical = EinsumEngine.CanonicalNumpy(subscripts); }
        catch (UnsupportedExpressionException e)
        {
            // eagerly the shapes are known: the same message, with them
            var avals = operands.Select(x => (x ?? throw new ArgumentNullException(nameof(operands))).Aval).ToArray();
            throw new ShapeException($"Np.Einsum(\"{subscripts}\", {string.Join(", ", avals.Select(a => a.ToString()))})", avals,
                e.Message[(e.Message.IndexOf("): ", StringComparison.Ordinal) + 3)..]);
        }
        return EinsumEngine.Run(canonical, null, operands, lax: false);
    }

    /// <summary>
    /// numpy's <c>tensordot</c> with an axis count: the last <paramref name="axes"/> axes of <paramref name="a"/> contracted
    /// with the first <paramref name="axes"/> axes of <paramref name="b"/>; the result has a's other axes then b's.
    /// Example: <c>TensorDot(a, b, 1)</c> of matrices is <c>MatMul(a, b)</c>; <c>TensorDot(a, b, 0)</c> is their outer product.
    /// </summary>
    /// <param name="a">The first operand.</param><param name="b">The second operand.</param>
    /// <param name="axes">How many axes to contract (at most either rank).</param><returns>The contraction.</returns>
    /// <exception cref="ShapeException">The contracted axes differ in size, or a rank is below <paramref name="axes"/>.</exception>
    public static Tensor TensorDot(Tensor a, Tensor b, int axes = 2)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (axes < 0 || axes > a.Rank || axes > b.Rank)
            throw ShapeException.Of("Np.TensorDot", $"axes {axes} must be between 0 and both ranks ({a.Rank}, {b.Rank})", ("a", a.Aval), ("b", b.Aval));
        try { return EinsumEngine.Run(TensorDotSpec(axes), null, [a, b], lax: true); }
        catch (ShapeException e) { throw ShapeException.Of($"Np.TensorDot", $"the last {axes} axes of a must match the first {axes} of b ({e.Detail})", ("a", a.Aval), ("b", b.Aval)); }
    }

    /// <summary>
    /// numpy's <c>tensordot</c> with axis lists: axis <c>axesA[i]</c> of <paramref name="a"/> contracted with axis
    /// <c>axesB[i]</c> of <paramref name="b"/>; the result has a's other axes, then b's, each in order. Inside an expression
    /// write each list with one sign (all non-negative or all negative), as the rank is not known when it is read.
    /// Example: <c>TensorDot(a, b, new[] { 0 }, new[] { 0 })</c> of matrices is <c>MatMul(Transpose(a), b)</c>.
    /// </summary>
    /// <param name="a">The first operand.</param><param name="b">The second operand.</param>
    /// <param name="axesA">Axes of a, each once.</param><param name="axesB">The axes of b they meet, as many.</param>
    /// <returns>The contraction.</returns>
    /// <exception cref="ShapeException">The lists differ in length, name an axis twice or out of range, or paired axes differ in size.</exception>
    public static Tensor TensorDot(Tensor a, Tensor b, int[] axesA, int[] axesB)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(axesA);
        ArgumentNullException.ThrowIfNull(axesB);
        string Call() => $"Np.TensorDot(a: {a.Aval}, b: {b.Aval}, axesA: {Eager.Dims(axesA)}, axesB: {Eager.Dims(axesB)})";
        if (axesA.Length != axesB.Length)
            throw new ShapeException(Call(), [a.Aval, b.Aval], $"axesA names {axesA.Length} axes and axesB {axesB.Length}; give one axis of b for each axis of a");
        var na = axesA.Select(x => Eager.Axis(x, a.Rank, Call, [a.Aval, b.Aval])).ToArray();
        var nb = axesB.Select(x => Eager.Axis(x, b.Rank, Call, [a.Aval, b.Aval])).ToArray();
        if (na.Distinct().Count() != na.Length || nb.Distinct().Count() != nb.Length)
            throw new ShapeException(Call(), [a.Aval, b.Aval], "an axis is named twice; name each axis once");
        for (int i = 0; i < na.Length; i++)
            if (a.Dims[na[i]] != b.Dims[nb[i]])
                throw new ShapeException(Call(), [a.Aval, b.Aval], $"axis {axesA[i]} of a has size {a.Dims[na[i]]} but axis {axesB[i]} of b has {b.Dims[nb[i]]}");
        foreach (var (ax, to) in TensorDotMoves(na, toEnd: true)) a = MoveAxis(a, ax, to);
        foreach (var (ax, to) in TensorDotMoves(nb, toEnd: false)) b = MoveAxis(b, ax, to);
        return TensorDot(a, b, na.Length);
    }

    /// <summary>The subscripts of <c>TensorDot(a, b, n)</c> in the Lax grammar: <c>"...ab,ab*-&gt;...*"</c>.</summary>
    internal static string TensorDotSpec(int n)
    {
        var letters = string.Concat(Enumerable.Range(0, n).Select(EinsumEngine.Char));
        return $"...{letters},{letters}*->...*";
    }

    /// <summary>
    /// The MoveAxis calls that bring the listed axes (all non-negative or all negative) to the end in order
    /// (<paramref name="toEnd"/>) or to the front in order: positions tracked as each move shifts the others.
    /// </summary>
    internal static List<(int Axis, int To)> TensorDotMoves(int[] axes, bool toEnd)
    {
        var cur = (int[])axes.Clone();
        var moves = new List<(int, int)>();
        var order = toEnd ? Enumerable.Range(0, cur.Length) : Enumerable.Range(0, cur.Length).Reverse();
        foreach (var s in order)
        {
            int p = cur[s];
            moves.Add((p, toEnd ? -1 : 0));
            for (int t = 0; t < cur.Length; t++)
            {
                if (t == s) continue;
                if (toEnd && cur[t] > p) cur[t]--;        // the axes after p shift left (non-negative or negative alike)
                if (!toEnd && cur[t] < p) cur[t]++;       // the axes before p shift right
            }
        }
        return moves;
    }

    /// <summary>
    /// numpy's <c>outer</c>: <c>out[i, j] = a.flat[i] * b.flat[j]</c> (both operands flattened first).
    /// Example: <c>Outer([1, 2], [1, 10, 100])</c> is <c>[[1, 10, 100], [2, 20, 200]]</c>.
    /// </summary>
    /// <param name="a">Any shape.</param><param name="b">Any shape.</param><returns>A <c>[a.size, b.size]</c> matrix.</returns>
    public static Tensor Outer(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return Einsum("i,j->ij", Reshape(a, [-1]), Reshape(b, [-1]));
    }

    /// <summary>
    /// numpy's <c>kron</c>, the Kronecker product: for operands of one rank, <c>out[i*p + k, j*q + l] = a[i, j] b[k, l]</c>
    /// (any rank; the lower-ranked operand gets leading size-1 axes). Computed as an einsum whose output axes are merged
    /// in pairs, so its derivative is one too.
    /// Example: <c>Kron([[1, 2], [3, 4]], [[0, 1], [1, 0]])</c> is <c>[[0, 1, 0, 2], [1, 0, 2, 0], [0, 3, 0, 4], [3, 0, 4, 0]]</c>.
    /// </summary>
    /// <param name="a">The first operand.</param><param name="b">The second operand.</param><returns>The Kronecker product.</returns>
    public static Tensor Kron(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return EinsumEngine.Run("kron", null, [a, b], lax: true);
    }
}

public static partial class Lax
{
    /// <summary>
    /// <see cref="Np.Einsum"/> in the extended grammar the library's rules write: a second ellipsis <c>*</c> that does not
    /// broadcast (<c>Np.TensorDot(a, b, 2)</c> is <c>Lax.Einsum("...xy,xy*-&gt;...*", a, b)</c>), and <c>"kron"</c>
    /// (<see cref="Np.Kron"/>), with <c>":k"</c> for k leading axes shared by the operands (its Vmap).
    /// </summary>
    /// <param name="subscripts">The subscripts.</param><param name="operands">One tensor per term.</param><returns>The contraction.</returns>
    public static Tensor Einsum(string subscripts, params Tensor[] operands) =>
        EinsumEngine.Run(subscripts ?? throw new ArgumentNullException(nameof(subscripts)), null, operands, lax: true);

    /// <summary>
    /// An einsum shaped like <paramref name="like"/>: what the transpose of an einsum is. Output letters may repeat (the
    /// values sit on that diagonal, zeros elsewhere) or appear in no operand (broadcast to like's size); the output
    /// <c>...</c> takes like's axes, operand <c>...</c> axes that like has not (or has with size 1) are summed.
    /// Example: <c>EinsumLike("i-&gt;ii", Aval [3,3], v)</c> is the diagonal matrix of v. <c>"kronT0"</c> and
    /// <c>"kronT1"</c> (operands: the cotangent and the other factor) are the transposes of <see cref="Np.Kron"/>.
    /// </summary>
    /// <param name="subscripts">The subscripts (explicit output).</param><param name="like">The result's shape.</param>
    /// <param name="operands">One tensor per input term.</param><returns>The contraction, of like's shape.</returns>
    public static Tensor EinsumLike(string subscripts, Aval like, params Tensor[] operands)
    {
        ArgumentNullException.ThrowIfNull(like);
        return EinsumEngine.Run(subscripts ?? throw new ArgumentNullException(nameof(subscripts)), like, operands, lax: true);
    }
}
