using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

internal sealed partial class Reader
{
    static readonly MethodInfo TensorIndexer = typeof(Tensor).GetProperty("Slice", [typeof(Ix[])])!.GetMethod!;
    static readonly MethodInfo TensorAt = typeof(Tensor).GetMethod(nameof(Tensor.At), [typeof(Ix[])])!;
    static readonly MethodInfo LaxIndex = typeof(Lax).GetMethod(nameof(Lax.Index), [typeof(Tensor), typeof(Ix[])])!;
    static readonly MethodInfo LaxIndexSet = typeof(Lax).GetMethod(nameof(Lax.IndexSet), [typeof(Tensor), typeof(Tensor), typeof(Ix[])])!;
    static readonly MethodInfo LaxIndexAdd = typeof(Lax).GetMethod(nameof(Lax.IndexAdd), [typeof(Tensor), typeof(Tensor), typeof(Ix[])])!;
    static readonly MethodInfo NpTake = typeof(Np).GetMethod(nameof(Np.Take), [typeof(Tensor), typeof(Tensor), typeof(int)])!;
    static readonly MethodInfo LaxGatherAxes = typeof(Lax).GetMethod(nameof(Lax.GatherAxes), [typeof(Tensor), typeof(Tensor[])])!;
    static readonly MethodInfo IxFromTensor = typeof(Ix).GetMethod(nameof(Ix.FromTensor), [typeof(Tensor)])!;

    /// <summary>
    /// The indexing spellings on a tensor as the Lax calls they stand for: <c>x[ix]</c> is <c>Lax.Index(x, ix)</c>;
    /// <c>x.At(ix).Set(v)</c> and <c>.Add(v)</c> are <c>Lax.IndexSet</c> and <c>Lax.IndexAdd</c>; <c>.Mul</c>, <c>.Min</c>
    /// and <c>.Max</c> set the part combined with v (<c>Lax.IndexSet(x, Np.Mul(Lax.Index(x, ix), v), ix)</c>). Null for any other call.
    /// </summary>
    static Expression? IndexingCall(MethodCallExpression call)
    {
        if (call.Method == TensorIndexer && call.Object is { } x)
            return ByTensors(call, x) ?? Expression.Call(LaxIndex, x, call.Arguments[0]);
        if (call.Method.DeclaringType == typeof(IndexUpdate) && call.Object is MethodCallExpression at && at.Method == TensorAt && at.Object is { } t)
        {
            var ix = at.Arguments[0];
            if (ix is NewArrayExpression { NodeType: ExpressionType.NewArrayInit } given && given.Expressions.Any(e => TensorIndex(e) is not null))
                throw Unsupported(at, "x.At(...) takes static indices (ints, ranges, Ix.All, Ix.Ellipsis), not index tensors; add at index tensors with Lax.ScatterAdd, or select with Np.Where");
            var v = call.Arguments[0];
            Expression Part(string op) => Expression.Call(typeof(Np).GetMethod(op, [typeof(Tensor), typeof(Tensor)])!, Expression.Call(LaxIndex, t, ix), v);
            return call.Method.Name switch
            {
                nameof(IndexUpdate.Set) => Expression.Call(LaxIndexSet, t, v, ix),
                nameof(IndexUpdate.Add) => Expression.Call(LaxIndexAdd, t, v, ix),
                nameof(IndexUpdate.Mul) => Expression.Call(LaxIndexSet, t, Part(nameof(Np.Mul)), ix),
                nameof(IndexUpdate.Min) => Expression.Call(LaxIndexSet, t, Part(nameof(Np.Minimum)), ix),
                nameof(IndexUpdate.Max) => Expression.Call(LaxIndexSet, t, Part(nameof(Np.Maximum)), ix),
                _ => null,
            };
        }
        return null;
    }

    /// <summary>The indexing spellings the user wrote (<c>x[mask]</c>), keyed by the Lax or Np call each is read as, so a node names what was written.</summary>
    readonly Dictionary<Expression, Expression> spelled = new(ReferenceEqualityComparer.Instance);

    /// <summary>The tensor an element of an index list converts from (<c>x[idx]</c>, <c>Ix.FromTensor(idx)</c>), or null.</summary>
    static Expression? TensorIndex(Expression e) => e switch
    {
        UnaryExpression { NodeType: ExpressionType.Convert, Operand: { } t } when t.Type == typeof(Tensor) => t,
        MethodCallExpression c when c.Method == IxFromTensor => c.Arguments[0],
        _ => null,
    };

    /// <summary>
    /// <c>x[...]</c> with index tensors in its list, as the gather it stands for: one tensor with every other index
    /// <c>Ix.All</c> is <c>Np.Take(x, idx, axis)</c>; tensors for the leading axes followed by <c>Ix.All</c> are
    /// <c>Lax.GatherAxes(x, new[] { rows, cols })</c>. Null when the list holds no index tensor. A bool mask is refused
    /// when the shapes are known (by the gather), naming this subexpression.
    /// </summary>
    static Expression? ByTensors(MethodCallExpression call, Expression x)
    {
        if (call.Arguments[0] is not NewArrayExpression { NodeType: ExpressionType.NewArrayInit } list) return null;
        var items = list.Expressions;
        var tensors = items.Select(TensorIndex).ToArray();
        if (tensors.All(t => t is null)) return null;
        const string accepted = "inside an expression an index tensor is accepted with every other index Ix.All (x[idx], x[Ix.All, idx]) or as tensors for the leading axes followed by Ix.All (x[rows, cols]); "
            + "for other mixes index in two steps (x[idx][Ix.All, Ix.Range(1, 3)]) or write Np.Take / Lax.GatherAxes";
        for (int i = 0; i < items.Count; i++)
        {
            if (tensors[i] is not null) continue;
            if (!IsClosed(items[i]) || !Ix.All.Equals(Expression.Lambda<Func<Ix>>(items[i]).Compile(preferInterpretation: true)()))
                throw Unsupported(call, accepted);
        }
        var at = Enumerable.Range(0, items.Count).Where(i => tensors[i] is not null).ToArray();
        if (at.Length == 1) return Expression.Call(NpTake, x, tensors[at[0]]!, Expression.Constant(at[0]));
        if (at.Where((p, i) => p != i).Any()) throw Unsupported(call, accepted);
        return Expression.Call(LaxGatherAxes, x, Expression.NewArrayInit(typeof(Tensor), at.Select(i => tensors[i]!)));
    }
}
