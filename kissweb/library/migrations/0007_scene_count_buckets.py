"""How many movies have exactly n scenes of each type, kept by a trigger on the per-movie totals.

"Movies with at least 3 kissing scenes" is the library's first question; counting them for the list's page count
walked one index entry per movie (1.1 ms for 9,238 of 10,000 movies). Summing these buckets reads a few dozen rows.
"""

import django.db.models.deletion
from django.db import migrations, models

BUCKET_TRIGGERS = """
CREATE FUNCTION library_scene_count_buckets() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    deltas jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(d) INTO deltas FROM (
            SELECT scene_type_id, segment_count, count(*) AS n FROM new_rows GROUP BY 1, 2) d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_agg(d) INTO deltas FROM (
            SELECT scene_type_id, segment_count, -count(*) AS n FROM old_rows GROUP BY 1, 2) d;
    ELSE
        SELECT jsonb_agg(d) INTO deltas FROM (
            SELECT scene_type_id, segment_count, sum(n) AS n
              FROM (SELECT scene_type_id, segment_count, 1 AS n FROM new_rows
                    UNION ALL
                    SELECT scene_type_id, segment_count, -1 FROM old_rows) changes
             GROUP BY 1, 2 HAVING sum(n) <> 0) d;
    END IF;
    IF deltas IS NULL THEN
        RETURN NULL;
    END IF;
    -- One writer per scene type at a time until commit: without it, two transactions that each change several
    -- buckets over several statements could lock them in opposite orders and deadlock.
    PERFORM pg_advisory_xact_lock(hashtext('library_scenecountbucket')::int, st)
       FROM (SELECT DISTINCT (d->>'scene_type_id')::int AS st FROM jsonb_array_elements(deltas) d ORDER BY 1) s;
    UPDATE library_scenecountbucket AS b SET movies = b.movies + d.n
      FROM jsonb_to_recordset(deltas) AS d(scene_type_id bigint, segment_count integer, n integer)
     WHERE d.n < 0 AND b.scene_type_id = d.scene_type_id AND b.segment_count = d.segment_count;
    INSERT INTO library_scenecountbucket AS b (scene_type_id, segment_count, movies)
    SELECT d.scene_type_id, d.segment_count, d.n
      FROM jsonb_to_recordset(deltas) AS d(scene_type_id bigint, segment_count integer, n integer)
     WHERE d.n > 0
    ON CONFLICT (scene_type_id, segment_count) DO UPDATE SET movies = b.movies + EXCLUDED.movies;
    RETURN NULL;
END;
$$;
CREATE TRIGGER scene_count_buckets_insert AFTER INSERT ON library_moviescenestats
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION library_scene_count_buckets();
CREATE TRIGGER scene_count_buckets_delete AFTER DELETE ON library_moviescenestats
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION library_scene_count_buckets();
CREATE TRIGGER scene_count_buckets_update AFTER UPDATE ON library_moviescenestats
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION library_scene_count_buckets();
INSERT INTO library_scenecountbucket (scene_type_id, segment_count, movies)
    SELECT scene_type_id, segment_count, count(*) FROM library_moviescenestats GROUP BY 1, 2;
"""
DROP_BUCKET_TRIGGERS = """
DROP TRIGGER scene_count_buckets_insert ON library_moviescenestats;
DROP TRIGGER scene_count_buckets_delete ON library_moviescenestats;
DROP TRIGGER scene_count_buckets_update ON library_moviescenestats;
DROP FUNCTION library_scene_count_buckets();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("library", "0006_scene_stats_per_statement"),
    ]

    operations = [
        migrations.CreateModel(
            name="SceneCountBucket",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("segment_count", models.IntegerField()),
                ("movies", models.IntegerField()),
                (
                    "scene_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="library.scenetype"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("scene_type", "segment_count"), name="one_bucket_per_scene_count"),
                    models.CheckConstraint(condition=models.Q(("movies__gte", 0)), name="bucket_movies_not_negative"),
                ],
            },
        ),
        migrations.RunSQL(BUCKET_TRIGGERS, DROP_BUCKET_TRIGGERS),
    ]
