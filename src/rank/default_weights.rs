//! Shipped default weights, index-aligned with `features::feature_name`.
//! Written by `replay --fit-weights --warm-start` (from the 87-feature weights, fast decay 0.5):
//! 15856 validation cases from the last 10% of sessions of train_sessions.txt. The device's fast
//! decay 0.6 was then chosen on the validation replay (0.5: HR@20 53.75 / MRR@20 19.69; 0.6:
//! 53.79 / 20.01; 0.65: 53.69 / 20.00; 0.75: 53.48 / 19.83).
//! Features that never fired in the validation data keep their prior. The return block of feature
//! layout 2 (16 after layout 1's 90) and the sequence block of layout 3 (the last 3) are 0: these
//! weights score exactly as they did in layout 1.
#![allow(clippy::excessive_precision)]

pub const DEFAULT_WEIGHTS: [f32; 109] = [
    0.100339,  // server_score
    0.019051,  // server_log_score
    0.010542,  // server_rank
    -0.892834, // in_answer
    -0.058488, // last_neighbour
    0.335530,  // last_neighbour_log
    0.473197,  // cooc_fast
    0.475746,  // cooc_slow
    0.047648,  // cooc_log
    1.480816,  // cooc_max
    0.199520,  // cooc_count
    0.556045,  // cooc_rank
    0.500000,  // cooc_reverse
    1.450286,  // emb_session
    0.376193,  // emb_last
    0.300000,  // emb_long_term
    0.300000,  // affinity
    0.300000,  // affinity_category
    -0.043032, // in_session
    0.272333,  // session_count
    1.796768,  // session_recency
    -1.691324, // is_last
    0.095177,  // long_repeat
    -3.000000, // purchased
    -5.000000, // dismissed
    1.578513,  // popularity
    0.296104,  // popularity_log
    2.948964,  // repeat_share
    -1.389768, // recency_repeat_share
    0.867323,  // recency_last_repeated
    -0.260153, // cooc_fast*cooc_fast
    0.011542,  // cooc_fast*server_rank
    -0.209053, // cooc_fast*emb_session
    0.808410,  // cooc_fast*emb_last
    -1.839514, // cooc_fast*session_recency
    0.373436,  // cooc_fast*popularity
    0.506223,  // cooc_fast*last_neighbour
    -0.763179, // cooc_fast*cooc_max
    0.000000,  // server_rank*server_rank
    0.010408,  // server_rank*emb_session
    0.011368,  // server_rank*emb_last
    0.000000,  // server_rank*session_recency
    0.000559,  // server_rank*popularity
    0.004319,  // server_rank*last_neighbour
    0.001265,  // server_rank*cooc_max
    -0.422164, // emb_session*emb_session
    0.024165,  // emb_session*emb_last
    -0.438193, // emb_session*session_recency
    2.147559,  // emb_session*popularity
    -0.489081, // emb_session*last_neighbour
    -0.796854, // emb_session*cooc_max
    -0.843913, // emb_last*emb_last
    -0.652602, // emb_last*session_recency
    1.373902,  // emb_last*popularity
    0.989949,  // emb_last*last_neighbour
    0.748064,  // emb_last*cooc_max
    1.263956,  // session_recency*session_recency
    0.435592,  // session_recency*popularity
    -0.251494, // session_recency*last_neighbour
    -1.369804, // session_recency*cooc_max
    -0.192040, // popularity*popularity
    -0.291928, // popularity*last_neighbour
    -1.544958, // popularity*cooc_max
    -0.445605, // last_neighbour*last_neighbour
    -0.432175, // last_neighbour*cooc_max
    -0.735992, // cooc_max*cooc_max
    1.007818,  // cooc_fast/set_max
    0.010542,  // server_rank/set_max
    2.441781,  // emb_session/set_max
    -0.213884, // emb_last/set_max
    1.649752,  // session_recency/set_max
    1.574228,  // popularity/set_max
    -0.896938, // last_neighbour/set_max
    0.964041,  // cooc_max/set_max
    -0.588604, // sqrt(cooc_fast)
    0.554121,  // sqrt(server_rank)
    -0.716371, // sqrt(emb_session)
    0.223966,  // sqrt(emb_last)
    0.962231,  // sqrt(session_recency)
    -8.104002, // sqrt(popularity)
    -0.423492, // sqrt(last_neighbour)
    -0.427873, // sqrt(cooc_max)
    -0.203498, // cooc_fast*long_session
    0.270758,  // server_rank*long_session
    0.644029,  // emb_session*long_session
    -0.243857, // emb_last*long_session
    -0.871824, // session_recency*long_session
    -1.458041, // popularity*long_session
    -0.724839, // last_neighbour*long_session
    0.913411,  // cooc_max*long_session
    0.000000,  // in_session*server_rank
    0.000000,  // in_session*cooc_fast
    0.000000,  // in_session*cooc_max
    0.000000,  // in_session*last_neighbour
    0.000000,  // in_session*cooc_reverse
    0.000000,  // in_session*emb_session
    0.000000,  // in_session*emb_last
    0.000000,  // in_session*popularity
    0.000000,  // in_session*len_log
    0.000000,  // in_session*distinct_log
    0.000000,  // in_session*last_repeated
    0.000000,  // recency_rank
    0.000000,  // count_share
    0.000000,  // top_count
    0.000000,  // session_count*repeat_share
    0.000000,  // is_last*len_log
    0.000000,  // next_last
    0.000000,  // next_prev
    0.000000,  // next_session
];
