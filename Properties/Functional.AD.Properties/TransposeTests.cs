using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// <c>Np.Transpose</c> against its definition, <c>out[i0, ..., ik] = x[i_perm^-1(0), ...]</c> computed here index by index,
/// for every permutation of shapes with and without axes of length 1 (a permutation that moves only length-1 axes keeps
/// the element order and shares the storage, as a reshape does: the values must be the same either way).
/// </summary>
public class TransposeTests
{
    static IEnumerable<int[]> Permutations(int n) => n == 0 ? [[]]
        : Permutations(n - 1).SelectMany(p => Enumerable.Range(0, n).Select(i => p.Take(i).Append(n - 1).Concat(p.Skip(i)).ToArray()));

    public static IEnumerable<object[]> Shapes =>
    [
        [new[] { 4, 1, 3 }], [new[] { 1, 5, 1, 2 }], [new[] { 2, 1, 1, 3 }], [new[] { 1, 1, 4 }], [new[] { 3, 2, 1 }], [new[] { 2, 3, 4 }],
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_permutation_equals_the_definition(int[] dims)
    {
        int size = dims.Aggregate(1, (a, d) => a * d);
        var x = new Tensor(Enumerable.Range(0, size).Select(i => (float)(i * 0.5 - 3)).ToArray(), dims);
        var xs = x.ToDoubleArray();
        foreach (var perm in Permutations(dims.Length))
        {
            var r = Transpose(x, perm);
            var od = perm.Select(a => dims[a]).ToArray();
            Assert.Equal(od, r.Shape);
            var rs = r.ToDoubleArray();
            var idx = new int[od.Length];
            for (int flat = 0; flat < size; flat++)
            {
                // the output index of this flat position, then the input element it takes
                for (int k = od.Length - 1, f = flat; k >= 0; k--) { idx[k] = f % od[k]; f /= od[k]; }
                int src = 0;
                var inIdx = new int[dims.Length];
                for (int k = 0; k < od.Length; k++) inIdx[perm[k]] = idx[k];
                for (int k = 0; k < dims.Length; k++) src = src * dims[k] + inIdx[k];
                Assert.Equal(xs[src], rs[flat]);
            }
        }
    }
}
