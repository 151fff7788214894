"""The per-movie scene totals, kept once per statement, and carrying the movie's title.

- Statement-level triggers with transition tables replace the row-level one: writing an analysis's 40 segments
  now updates each totals row once instead of 40 times (the row-level version left 40 dead row versions per
  movie; on a 10,000-movie library the totals table grew from 82 to 1,667 pages until a VACUUM FULL).
- `title` is a copy of the movie's title (kept by a trigger on library_movie), so the scene search can count the
  scenes of the movies whose title matches from this narrow table alone, through its own trigram index, instead
  of joining every matching movie to its totals (0.4 instead of 2-4 ms for a word matching 671 of 10,000 titles).
"""

from django.db import migrations, models

STATS_TRIGGERS = """
DROP TRIGGER segment_stats ON library_segment;
DROP FUNCTION library_segment_stats();

-- Adds (movie, scene type, +-count, +-seconds) deltas to the totals, once per statement. A delta that adds
-- segments may create its totals row; one that removes them only updates an existing row (when a movie is deleted,
-- its totals rows may go before its segments do, and must not come back).
CREATE FUNCTION library_scene_stats_add(deltas jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO library_moviescenestats AS s (movie_id, scene_type_id, segment_count, scene_seconds, title)
    SELECT d.movie_id, d.scene_type_id, d.n, d.seconds, COALESCE(m.title, '')
      FROM jsonb_to_recordset(deltas) AS d(movie_id bigint, scene_type_id bigint, n integer, seconds double precision)
      LEFT JOIN library_movie m ON m.id = d.movie_id
     WHERE d.n > 0
     ORDER BY d.movie_id, d.scene_type_id
    ON CONFLICT (movie_id, scene_type_id) DO UPDATE
       SET segment_count = s.segment_count + EXCLUDED.segment_count,
           scene_seconds = s.scene_seconds + EXCLUDED.scene_seconds;
    UPDATE library_moviescenestats AS s
       SET segment_count = s.segment_count + d.n, scene_seconds = s.scene_seconds + d.seconds
      FROM jsonb_to_recordset(deltas) AS d(movie_id bigint, scene_type_id bigint, n integer, seconds double precision)
     WHERE d.n <= 0 AND s.movie_id = d.movie_id AND s.scene_type_id = d.scene_type_id;
$$;

CREATE FUNCTION library_segment_stats() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    deltas jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(d) INTO deltas FROM (
            SELECT movie_id, scene_type_id, count(*) AS n, sum(end_s - start_s) AS seconds
              FROM new_rows GROUP BY 1, 2) d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT jsonb_agg(d) INTO deltas FROM (
            SELECT movie_id, scene_type_id, -count(*) AS n, -sum(end_s - start_s) AS seconds
              FROM old_rows GROUP BY 1, 2) d;
    ELSE
        SELECT jsonb_agg(d) INTO deltas FROM (
            SELECT movie_id, scene_type_id, sum(n) AS n, sum(seconds) AS seconds
              FROM (SELECT movie_id, scene_type_id, 1 AS n, end_s - start_s AS seconds FROM new_rows
                    UNION ALL
                    SELECT movie_id, scene_type_id, -1, -(end_s - start_s) FROM old_rows) changes
             GROUP BY 1, 2
            HAVING sum(n) <> 0 OR sum(seconds) <> 0) d;
    END IF;
    IF deltas IS NOT NULL THEN
        PERFORM library_scene_stats_add(deltas);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER segment_stats_insert AFTER INSERT ON library_segment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION library_segment_stats();
CREATE TRIGGER segment_stats_delete AFTER DELETE ON library_segment
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION library_segment_stats();
CREATE TRIGGER segment_stats_update AFTER UPDATE ON library_segment
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION library_segment_stats();

-- The totals' copy of the title follows the movie's (also when a movie row arrives after its segments, which
-- Django's deferred foreign keys allow inside one transaction).
CREATE FUNCTION library_movie_title_to_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE library_moviescenestats SET title = NEW.title WHERE movie_id = NEW.id AND title IS DISTINCT FROM NEW.title;
    RETURN NULL;
END;
$$;
CREATE TRIGGER movie_title_to_stats AFTER INSERT OR UPDATE OF title ON library_movie
    FOR EACH ROW EXECUTE FUNCTION library_movie_title_to_stats();

UPDATE library_moviescenestats s SET title = m.title FROM library_movie m WHERE m.id = s.movie_id;
"""

DROP_STATS_TRIGGERS = """
DROP TRIGGER movie_title_to_stats ON library_movie;
DROP FUNCTION library_movie_title_to_stats();
DROP TRIGGER segment_stats_insert ON library_segment;
DROP TRIGGER segment_stats_delete ON library_segment;
DROP TRIGGER segment_stats_update ON library_segment;
DROP FUNCTION library_segment_stats();
DROP FUNCTION library_scene_stats_add(jsonb);
CREATE FUNCTION library_segment_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE library_moviescenestats
           SET segment_count = segment_count - 1, scene_seconds = scene_seconds - (OLD.end_s - OLD.start_s)
         WHERE movie_id = OLD.movie_id AND scene_type_id = OLD.scene_type_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO library_moviescenestats (movie_id, scene_type_id, segment_count, scene_seconds)
        VALUES (NEW.movie_id, NEW.scene_type_id, 1, NEW.end_s - NEW.start_s)
        ON CONFLICT (movie_id, scene_type_id) DO UPDATE
           SET segment_count = library_moviescenestats.segment_count + 1,
               scene_seconds = library_moviescenestats.scene_seconds + EXCLUDED.scene_seconds;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER segment_stats AFTER INSERT OR DELETE OR UPDATE OF start_s, end_s, movie_id, scene_type_id
    ON library_segment FOR EACH ROW EXECUTE FUNCTION library_segment_stats();
"""


def stats_title_trigram_index(apps, schema_editor):
    """As migration 0005's index on movie titles: only where pg_trgm is (or now is) installed."""
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cur.fetchone() is None:
            return
        cur.execute(
            "CREATE INDEX IF NOT EXISTS scene_stats_title_trigram ON library_moviescenestats "
            "USING gin (UPPER(title::text) gin_trgm_ops)"
        )
        cur.execute("ANALYZE library_moviescenestats")


def drop_stats_title_trigram_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS scene_stats_title_trigram")


class Migration(migrations.Migration):

    dependencies = [
        ("library", "0005_movie_scene_stats"),
    ]

    operations = [
        migrations.AddField(
            model_name="moviescenestats",
            name="title",
            field=models.CharField(default="", max_length=300),
            preserve_default=False,
        ),
        migrations.RunSQL(STATS_TRIGGERS, DROP_STATS_TRIGGERS),
        migrations.RunPython(stats_title_trigram_index, drop_stats_title_trigram_index),
    ]
