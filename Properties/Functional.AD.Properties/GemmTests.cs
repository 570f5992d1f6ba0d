using Xunit;

namespace Functional.AD.Properties;

/// <summary>The blocked GEMM against a naive triple loop in float64, for every transpose combination, shapes that are not multiples of the register tile, 1 to 3 threads, and C filled with NaN beforehand (it is overwritten, not accumulated into).</summary>
public class GemmTests
{
    [Theory]
    [InlineData(128, 40, 70, 1)]
    [InlineData(128, 40, 70, 2)]
    [InlineData(131, 37, 401, 2)]    // k over one KC block, m not a multiple of the tile rows
    [InlineData(20, 33, 1153, 1)]    // k in four equal blocks of 289 (the last 286)
    [InlineData(200, 17, 33, 3)]
    [InlineData(48, 96, 203, 2)]     // several whole panels of B (the transposed pack in 8 x 8 blocks, k mod 8 = 3)
    [InlineData(7, 5, 3, 2)]
    [InlineData(4, 3, 0, 1)]         // k = 0: C is zeros
    public void Multiply_equals_a_naive_loop(int m, int n, int k, int threads)
    {
        var r = new System.Random(m * 31 + n * 7 + k);
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var a = Enumerable.Range(0, m * k).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            var c = Enumerable.Repeat(float.NaN, m * n).ToArray();   // C's previous content is ignored
            Gemm.Multiply(a, b, c, m, n, k, ta, tb, threads);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                    Assert.True(Math.Abs(c[i * n + j] - s) <= 1e-5 * k, $"ta={ta} tb={tb} C[{i},{j}] = {c[i * n + j]}, expected {s}");
                }
        }
    }
}
