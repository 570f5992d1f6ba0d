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

    /// <summary>
    /// The indexing spellings on a tensor as the Lax calls they stand for: <c>x[ix]</c> is <c>Lax.Index(x, ix)</c>;
    /// <c>x.At(ix).Set(v)</c> and <c>.Add(v)</c> are <c>Lax.IndexSet</c> and <c>Lax.IndexAdd</c>; <c>.Mul</c>, <c>.Min</c>
    /// and <c>.Max</c> set the part combined with v (<c>Lax.IndexSet(x, Np.Mul(Lax.Index(x, ix), v), ix)</c>). Null for any other call.
    /// </summary>
    static Expression? IndexingCall(MethodCallExpression call)
    {
        if (call.Method == TensorIndexer && call.Object is { } x)
            return Expression.Call(LaxIndex, x, call.Arguments[0]);
        if (call.Method.DeclaringType == typeof(IndexUpdate) && call.Object is MethodCallExpression at && at.Method == TensorAt && at.Object is { } t)
        {
            var ix = at.Arguments[0];
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
}
