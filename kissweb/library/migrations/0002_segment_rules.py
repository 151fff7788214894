"""Segment rules that a CHECK constraint cannot express, kept in Postgres.

No overlap: an exclusion constraint over ranges. Equality on the scoping ids uses one-point int8ranges so
that only the built-in range GiST operator class is needed (no btree_gist, which embedded pgserver lacks).
Detected segments are scoped by their analysis, manual ones share scope 0. Touching ranges ([a,b) and
[b,c)) do not overlap.

end_s <= movie duration: a trigger, since a CHECK cannot look at another table.
"""

from django.db import migrations

EXCLUSION = """
ALTER TABLE library_segment ADD CONSTRAINT segment_no_overlap EXCLUDE USING gist (
    int8range(movie_id, movie_id, '[]') WITH =,
    int8range(scene_type_id, scene_type_id, '[]') WITH =,
    int8range(COALESCE(analysis_id, 0), COALESCE(analysis_id, 0), '[]') WITH =,
    numrange(start_s::numeric, end_s::numeric, '[)') WITH &&
);
"""

WITHIN_DURATION = """
CREATE FUNCTION library_segment_within_movie() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    movie_duration double precision;
BEGIN
    SELECT duration_s INTO movie_duration FROM library_movie WHERE id = NEW.movie_id;
    IF NEW.end_s > movie_duration THEN
        RAISE EXCEPTION 'segment end % s is past the end of the movie (% s)', NEW.end_s, movie_duration
            USING ERRCODE = 'check_violation', CONSTRAINT = 'segment_within_movie';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER segment_within_movie BEFORE INSERT OR UPDATE OF end_s, movie_id ON library_segment
    FOR EACH ROW EXECUTE FUNCTION library_segment_within_movie();
CREATE TRIGGER annotation_within_movie BEFORE INSERT OR UPDATE OF end_s, movie_id ON library_annotation
    FOR EACH ROW EXECUTE FUNCTION library_segment_within_movie();
"""


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]

    operations = [
        migrations.RunSQL(EXCLUSION, "ALTER TABLE library_segment DROP CONSTRAINT segment_no_overlap;"),
        migrations.RunSQL(
            WITHIN_DURATION,
            "DROP TRIGGER annotation_within_movie ON library_annotation;"
            "DROP TRIGGER segment_within_movie ON library_segment;"
            "DROP FUNCTION library_segment_within_movie();",
        ),
    ]
